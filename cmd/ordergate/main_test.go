package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// runCmd runs one ordergate command in dir and returns its stdout.
func runCmd(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs "ordergate serve" in dir until the test ends.
func startServer(t *testing.T, dir string, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", addr, "--db", "sqlite:" + filepath.Join(dir, "ordergate.db")}, args...),
			nil, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	})
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return "http://" + addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server did not become ready")
	return ""
}

func postJSON(t *testing.T, url, token string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	if out, err := runCmd(t, dir, "correct horse battery staple\n", "user", "add", "--username", "alice", "--role", "clerk", "--role", "auditor", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v: %s", err, out)
	}
	for _, f := range []string{"ordergate.db", "ordergate.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want it created with mode 0600", f, err, fi.Mode().Perm())
		}
	}
	if out, err := runCmd(t, dir, "password\n", "user", "add", "--username", "bob", "--role", "clerk", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "common") {
		t.Errorf("user add with a breached password: %v %q; want a refusal naming it common", err, out)
	}
	out, _ := runCmd(t, dir, "", "user", "list")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "auditor,clerk") {
		t.Errorf("user list = %q", out)
	}

	base := startServer(t, dir)
	status, body, _ := postJSON(t, base+"/api/v1/login", "", map[string]string{"username": "alice", "password": "correct horse battery staple"})
	if status != 200 || body["state"] != "authenticated" || body["session_token"] == "" {
		t.Fatalf("login = %d %v", status, body)
	}
	token := body["session_token"].(string)
	for _, tc := range []struct {
		user, pw string
	}{{"alice", "wrong password!"}, {"nobody", "correct horse battery staple"}} {
		status, body, _ := postJSON(t, base+"/api/v1/login", "", map[string]string{"username": tc.user, "password": tc.pw})
		if status != 401 || body["error"] != "invalid_credentials" {
			t.Errorf("login(%s, wrong) = %d %v; want 401 invalid_credentials", tc.user, status, body)
		}
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sess map[string]any
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != 200 || sess["user"].(map[string]any)["username"] != "alice" || sess["aal"] != 1.0 {
		t.Errorf("GET /api/v1/session = %d %v", resp.StatusCode, sess)
	}
	if status, _, _ := postJSON(t, base+"/api/v1/logout", token, nil); status != 204 {
		t.Errorf("logout = %d, want 204", status)
	}
	req, _ = http.NewRequest("GET", base+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("session after logout = %d, want 401", resp.StatusCode)
	}

	out, err = runCmd(t, dir, "", "audit", "verify")
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify = %v %q", err, out)
	}
	out, _ = runCmd(t, dir, "", "audit", "export")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last["action"] != "logout" || !strings.Contains(out, `"reason":"unknown_user"`) {
		t.Errorf("audit export: last action %v, %d lines", last["action"], len(lines))
	}

	// Tamper with one event: verify must fail and name it.
	db, err := sql.Open("sqlite", filepath.Join(dir, "ordergate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET body = replace(body, '"ok"', '"failed"') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCmd(t, dir, "", "audit", "verify")
	if code, ok := err.(exitCode); !ok || code != 1 || !strings.Contains(out, "sequence 2") {
		t.Errorf("audit verify after tampering = %v %q; want exit 1 naming sequence 2", err, out)
	}
}

func TestServeRefusesBadStarts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("mfa: {mandatory_roles: [boss]}\n"), 0o600)
	notDB := filepath.Join(dir, "notes.db")
	os.WriteFile(notDB, []byte("my notes"), 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--config", filepath.Join(dir, "bad.yaml")}, "mfa.mandatory_roles[0]"},
		{[]string{"--db", "postgres://u:pw@127.0.0.1:1/x"}, "127.0.0.1:1"},
		{[]string{"--db", "sqlite:" + notDB}, "not a SQLite database"},
	}
	for _, tc := range cases {
		out, err := runCmd(t, dir, "", append([]string{"serve", "--addr", freeAddr(t)}, tc.args...)...)
		msg := fmt.Sprint(err) + out
		if err == nil || !strings.Contains(msg, tc.want) || strings.Contains(msg, "pw@") {
			t.Errorf("serve %v = %q; want an error naming %q without secrets", tc.args, msg, tc.want)
		}
	}
	if b, _ := os.ReadFile(notDB); string(b) != "my notes" {
		t.Errorf("serve changed a file that is not a database")
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ORDERGATE_DB", "sqlite:"+filepath.Join(dir, "env.db"))
	if out, err := runCmd(t, dir, "", "migrate"); err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate = %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "env.db")); err != nil {
		t.Errorf("ORDERGATE_DB was not used: %v", err)
	}
}
