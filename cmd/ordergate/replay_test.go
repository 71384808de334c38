package main

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/testenv"
)

// buildBinary compiles ordergate once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ordergate-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ordergate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// startProcess runs "ordergate serve" as its own process until the test ends.
func startProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return "http://" + addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ordergate at %s did not start: %s", addr, logs.String())
	return ""
}

func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// TestTwoProcessReplayPostgres runs two ordergate processes on one
// PostgreSQL database and sends the same TOTP code to both at once: the
// code must be accepted exactly once, cluster-wide.
func TestTwoProcessReplayPostgres(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	common := []string{"--db", dsn, "--key-file", filepath.Join(dir, "ordergate.key")}
	if out, err := runCmd(t, dir, "admin passphrase for tests\n", append([]string{"user", "add", "--username", "root", "--role", "admin", "--password-stdin"}, common...)...); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	a := startProcess(t, bin, common...)
	b := startProcess(t, bin, common...)
	login := func(base string) string {
		status, body := call(t, "POST", base+"/api/v1/login", "", map[string]string{"username": "root", "password": "admin passphrase for tests"})
		if status != 200 {
			t.Fatalf("login on %s = %d %v", base, status, body)
		}
		return body["session_token"].(string)
	}
	enroll := login(a)
	status, enr := call(t, "POST", a+"/api/v1/me/factors/totp", enroll, nil)
	if status != 201 {
		t.Fatalf("begin TOTP = %d %v", status, enr)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Confirm on the other process: the factor lives in the database.
	status, conf := call(t, "POST", b+"/api/v1/me/factors/totp/"+enr["id"].(string)+"/confirm", enroll,
		map[string]string{"code": totp.Code(seed, now, totp.DefaultParams)})
	if status != 200 {
		t.Fatalf("confirm on the second process = %d %v", status, conf)
	}

	// The next time step is inside the ±1 window and not used yet.
	code := totp.Code(seed, now.Add(30*time.Second), totp.DefaultParams)
	tokens := []string{login(a), login(b)}
	results := make([]int, 2)
	var wg sync.WaitGroup
	for i, base := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = call(t, "POST", base+"/api/v1/login/mfa", tokens[i], map[string]string{"method": "totp", "code": code})
		}()
	}
	wg.Wait()
	if got := fmt.Sprint(results); got != "[200 401]" && got != "[401 200]" {
		t.Errorf("the same code sent to two processes at once answered %s, want one 200 and one 401", got)
	}
	out, err := runCmd(t, dir, "", append([]string{"audit", "verify"}, common...)...)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify after two processes wrote = %v %q", err, out)
	}
}
