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

// startProcess runs "ordergate serve" as its own process until the test
// ends and returns its base URL once it is ready.
func startProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	p := launchProcess(t, bin, args...)
	p.waitReady(t)
	return p.URL
}

// serveProcess is an "ordergate serve" process started by a test.
type serveProcess struct {
	URL  string
	Cmd  *exec.Cmd
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe to read while the process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// launchProcess starts "ordergate serve" on a free port without waiting
// for it; the process is interrupted when the test ends.
func launchProcess(t *testing.T, bin string, args ...string) *serveProcess {
	t.Helper()
	addr := freeAddr(t)
	p := &serveProcess{URL: "http://" + addr, logs: &syncBuffer{}}
	p.Cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	p.Cmd.Stderr = p.logs
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Cmd.Process.Signal(os.Interrupt)
		p.Cmd.Wait()
	})
	return p
}

// waitReady polls /readyz until it answers 200, failing t with the
// process's log after 10 s.
func (p *serveProcess) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("ordergate at %s did not start: %s", p.URL, p.logs.String())
}

// errorLines returns the lines the process logged at level ERROR.
func (p *serveProcess) errorLines() string {
	var b strings.Builder
	for line := range strings.Lines(p.logs.String()) {
		if strings.Contains(line, `"level":"ERROR"`) {
			b.WriteString(line)
		}
	}
	return b.String()
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

// totpCluster is two ordergate processes, a and b, on one fresh
// PostgreSQL schema, with an admin "root" whose TOTP factor was begun on
// a and confirmed on b with the code of the time step of enrolled.
type totpCluster struct {
	dir      string
	common   []string // --db and --key-file
	a, b     string
	seed     []byte
	enrolled time.Time
}

// rootPassword is the password of the cluster's admin.
const rootPassword = "admin passphrase for tests"

// newTOTPCluster starts a totpCluster.
func newTOTPCluster(t *testing.T) *totpCluster {
	t.Helper()
	dsn := testenv.PostgresSchema(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := &totpCluster{dir: t.TempDir()}
	c.common = []string{"--db", dsn, "--key-file", filepath.Join(c.dir, "ordergate.key")}
	if out, err := runCmd(t, c.dir, rootPassword+"\n", append([]string{"user", "add", "--username", "root", "--role", "admin", "--password-stdin"}, c.common...)...); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	c.a = startProcess(t, bin, c.common...)
	c.b = startProcess(t, bin, c.common...)
	enroll := c.login(t, c.a)
	status, enr := call(t, "POST", c.a+"/api/v1/me/factors/totp", enroll, nil)
	if status != 201 {
		t.Fatalf("begin TOTP = %d %v", status, enr)
	}
	if c.seed, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr["secret"].(string)); err != nil {
		t.Fatal(err)
	}
	c.enrolled = time.Now()
	// Confirm on the other process: the factor lives in the database.
	status, conf := call(t, "POST", c.b+"/api/v1/me/factors/totp/"+enr["id"].(string)+"/confirm", enroll,
		map[string]string{"code": c.code(c.enrolled)})
	if status != 200 {
		t.Fatalf("confirm on the second process = %d %v", status, conf)
	}
	return c
}

// login runs the password step of root's login on base and returns the
// session token.
func (c *totpCluster) login(t *testing.T, base string) string {
	t.Helper()
	status, body := call(t, "POST", base+"/api/v1/login", "", map[string]string{"username": "root", "password": rootPassword})
	if status != 200 {
		t.Fatalf("login on %s = %d %v", base, status, body)
	}
	return body["session_token"].(string)
}

// code returns root's TOTP code for the time step of at.
func (c *totpCluster) code(at time.Time) string { return totp.Code(c.seed, at, totp.DefaultParams) }

// TestTwoProcessReplayPostgres runs two ordergate processes on one
// PostgreSQL database and sends the same TOTP code to both at once: the
// code must be accepted exactly once, cluster-wide.
func TestTwoProcessReplayPostgres(t *testing.T) {
	c := newTOTPCluster(t)
	// The next time step is inside the ±1 window and not used yet.
	code := c.code(c.enrolled.Add(30 * time.Second))
	tokens := []string{c.login(t, c.a), c.login(t, c.b)}
	results := make([]int, 2)
	var wg sync.WaitGroup
	for i, base := range []string{c.a, c.b} {
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
	out, err := runCmd(t, c.dir, "", append([]string{"audit", "verify"}, c.common...)...)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify after two processes wrote = %v %q", err, out)
	}
}
