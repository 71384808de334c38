package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/testenv"
)

// nginxConf puts a legacy application (proxy_pass to legacy) behind
// ordergate's /auth/verify with auth_request, forwarding the user header
// to the application. The protected location proxies: a "return" there
// would run before auth_request and bypass it.
// nginxHead is the part of every test nginx configuration that runs
// nginx in the foreground with its files in a scratch folder and defines
// the internal auth_request location that asks ordergate's /auth/verify.
const nginxHead = `daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s;
		server_name legacy.example.com;
		location = /_ordergate_verify {
			internal;
			proxy_pass %[3]s/auth/verify;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
			proxy_set_header X-Forwarded-For $remote_addr;
		}
`

const nginxConf = nginxHead + `		location / {
			auth_request /_ordergate_verify;
			auth_request_set $og_user $upstream_http_x_ordergate_user;
			auth_request_set $og_aal $upstream_http_x_ordergate_aal;
			proxy_set_header X-Ordergate-User $og_user;
			proxy_set_header X-Ordergate-AAL $og_aal;
			proxy_pass %[4]s;
		}
	}
}
`

// startNginx runs nginx with nginxConf until the test ends and returns its URL.
func startNginx(t *testing.T, ordergateURL, legacyURL string) string {
	t.Helper()
	return runNginx(t, nginxConf, ordergateURL, legacyURL)
}

// runNginx runs nginx with the configuration template conf (%[1]s the
// scratch folder, %[2]s the listen address, %[3]s ordergate's URL, %[4]s
// the legacy application's) until the test ends and returns its URL.
func runNginx(t *testing.T, conf, ordergateURL, legacyURL string) string {
	t.Helper()
	bin := testenv.Tool(t, "nginx")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(fmt.Sprintf(conf, dir, addr, ordergateURL, legacyURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-c", confPath, "-p", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("nginx did not start listening")
	return ""
}

// TestForwardAuthNginx puts a legacy application behind a real nginx whose
// auth_request asks ordergate.
func TestForwardAuthNginx(t *testing.T) {
	e := newForwardEnv(t)
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "legacy app: user=%q aal=%q path=%s", r.Header.Get("X-Ordergate-User"), r.Header.Get("X-Ordergate-AAL"), r.URL.Path)
	}))
	t.Cleanup(legacy.Close)
	front := startNginx(t, e.URL, legacy.URL)
	u, _ := url.Parse(front)

	tests := []struct {
		name     string
		path     string
		session  string
		want     int
		wantBody string
	}{
		{"no session", "/admin/users", "", http.StatusUnauthorized, ""},
		{"one factor on a two-factor path", "/admin/users", e.admin1, http.StatusUnauthorized, ""},
		{"AAL2 admin", "/admin/users", e.admin2, http.StatusOK, `legacy app: user="alba" aal="2" path=/admin/users`},
		{"AAL2 clerk lacks the admin role", "/admin/users", e.clerk2, http.StatusUnauthorized, ""},
		{"one factor on a one-factor path", "/report", e.clerk1, http.StatusOK, `legacy app: user="carol" aal="1" path=/report`},
		{"public path: the forged user header does not reach the app", "/public/logo.png", "", http.StatusOK, `legacy app: user="" aal="" path=/public/logo.png`},
		{"unknown session token", "/report", "forged", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", front+tt.path, nil)
			req.Host = "legacy.example.com"
			req.Header.Set("X-Ordergate-User", "mallory")
			if tt.session != "" {
				req.AddCookie(&http.Cookie{Name: "ordergate_session", Value: tt.session})
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s via nginx %s = %d %s, want %d", tt.path, u.Host, resp.StatusCode, b, tt.want)
			}
			if tt.wantBody != "" && strings.TrimSpace(string(b)) != tt.wantBody {
				t.Errorf("legacy app saw %q, want %q", b, tt.wantBody)
			}
		})
	}
}
