package web_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/web"
)

const (
	alicePassword = "correct horse battery staple"
	jsonType      = "application/json"
)

func loginBody(username, password string) string {
	b, _ := json.Marshal(map[string]string{"username": username, "password": password})
	return string(b)
}

// login signs alice in through the API and returns the answer.
func (ts *testServer) login(t *testing.T) answer {
	t.Helper()
	a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", alicePassword))
	if a.Status != http.StatusOK {
		t.Fatalf("POST /api/v1/login = %d %s, want 200", a.Status, a.Body)
	}
	return a
}

func TestLoginOK(t *testing.T) {
	tests := []struct {
		name       string
		secure     bool
		cookie     string
		wantSecure bool
		wantHSTS   bool
	}{
		{"http", false, "ordergate_session", false, false},
		{"tls", true, "__Host-ordergate_session", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, func(s *web.Server) { s.Secure = tt.secure })
			a := ts.login(t)
			body := a.JSON(t)
			if got, want := body["state"], "authenticated"; got != want {
				t.Errorf("state = %v, want %v", got, want)
			}
			if got, want := body["aal"], 1.0; got != want {
				t.Errorf("aal = %v, want %v", got, want)
			}
			token, _ := body["session_token"].(string)
			if token == "" {
				t.Fatalf("session_token missing in %s", a.Body)
			}
			c := a.Cookie(tt.cookie)
			if c == nil {
				t.Fatalf("no %s cookie in %q", tt.cookie, a.Header.Values("Set-Cookie"))
			}
			if got, want := c.Value, token; got != want {
				t.Errorf("cookie value = %q, want the session token %q", got, want)
			}
			if !c.HttpOnly {
				t.Errorf("cookie HttpOnly = false, want true")
			}
			if got, want := c.SameSite, http.SameSiteLaxMode; got != want {
				t.Errorf("cookie SameSite = %v, want %v", got, want)
			}
			if got, want := c.Secure, tt.wantSecure; got != want {
				t.Errorf("cookie Secure = %v, want %v", got, want)
			}
			if got, want := c.Path, "/"; got != want {
				t.Errorf("cookie Path = %q, want %q", got, want)
			}
			if got, want := a.Header.Get("Strict-Transport-Security") != "", tt.wantHSTS; got != want {
				t.Errorf("HSTS sent = %v, want %v", got, want)
			}
			s := ts.do(t, "GET", "/api/v1/session", "", "", "Authorization: Bearer "+token)
			if got, want := s.Status, http.StatusOK; got != want {
				t.Errorf("GET /api/v1/session = %d %s, want %d", got, s.Body, want)
			}
		})
	}
}

func TestLoginFailuresAreIdentical(t *testing.T) {
	ts := newTestServer(t, nil)
	unknown := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("nobody", alicePassword))
	wrong := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", "not the right one"))
	for _, a := range []answer{unknown, wrong} {
		if got, want := a.Status, http.StatusUnauthorized; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
		if got, want := a.JSON(t)["error"], ordergate.ECREDENTIALS; got != want {
			t.Errorf("error = %v, want %v", got, want)
		}
		if a.Cookie("ordergate_session") != nil {
			t.Errorf("a failed login set a session cookie")
		}
	}
	if !bytes.Equal(unknown.Body, wrong.Body) {
		t.Errorf("unknown user body %q differs from wrong password body %q", unknown.Body, wrong.Body)
	}
}

func TestLoginThrottled(t *testing.T) {
	ts := newTestServer(t, nil)
	free := auth.AccountThrottle.Free
	for i := range free {
		a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", "wrong guess "+strconv.Itoa(i)))
		if got, want := a.Status, http.StatusUnauthorized; got != want {
			t.Fatalf("failure %d: status = %d %s, want %d", i+1, got, a.Body, want)
		}
	}

	a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", alicePassword))
	if got, want := a.Status, http.StatusTooManyRequests; got != want {
		t.Fatalf("correct password after %d failures: status = %d %s, want %d", free, got, a.Body, want)
	}
	body := a.JSON(t)
	if got, want := body["error"], ordergate.ERATELIMIT; got != want {
		t.Errorf("error = %v, want %v", got, want)
	}
	wait := int(auth.AccountThrottle.Wait(free) / time.Second)
	if got, want := a.Header.Get("Retry-After"), strconv.Itoa(wait); got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
	if got, want := body["retry_after"], float64(wait); got != want {
		t.Errorf("retry_after = %v, want %v", got, want)
	}
	if a.Cookie("ordergate_session") != nil {
		t.Errorf("a throttled login set a session cookie")
	}

	ts.Clock.Add(time.Duration(wait) * time.Second)
	if a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", alicePassword)); a.Status != http.StatusOK {
		t.Errorf("login after the wait = %d %s, want 200", a.Status, a.Body)
	}
}

func TestLoginBadInput(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantField   string
	}{
		{"malformed JSON", jsonType, `{"username": "alice",`, 400, ""},
		{"empty body", jsonType, ``, 400, ""},
		{"two values", jsonType, loginBody("alice", alicePassword) + `{}`, 400, ""},
		{"unknown field", jsonType, `{"username":"alice","password":"x","remember":true}`, 400, "remember"},
		{"wrong type", jsonType, `{"username":42,"password":"x"}`, 400, "username"},
		{"missing password", jsonType, `{"username":"alice"}`, 400, "password"},
		{"form post", "application/x-www-form-urlencoded", "username=alice&password=" + strings.ReplaceAll(alicePassword, " ", "+"), 400, ""},
		{"multipart post", "multipart/form-data; boundary=x", "--x--\r\n", 400, ""},
		{"text body", "text/plain", loginBody("alice", alicePassword), 400, ""},
		{"over the body limit", jsonType, `{"username":"alice","password":"` + strings.Repeat("a", 1<<20) + `"}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ts.do(t, "POST", "/api/v1/login", tt.contentType, tt.body)
			if got, want := a.Status, tt.wantStatus; got != want {
				t.Fatalf("status = %d %s, want %d", got, a.Body, want)
			}
			body := a.JSON(t)
			if got, want := body["error"], ordergate.EINVALID; got != want {
				t.Errorf("error = %v, want %v", got, want)
			}
			if tt.wantField != "" {
				fields, _ := body["fields"].(map[string]any)
				if _, ok := fields[tt.wantField]; !ok {
					t.Errorf("fields = %v, want it to name %q", body["fields"], tt.wantField)
				}
			}
			if a.Cookie("ordergate_session") != nil {
				t.Errorf("a refused login set a session cookie")
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	ts := newTestServer(t, nil)

	cookieLogin := ts.login(t)
	cookie := "Cookie: ordergate_session=" + cookieLogin.Cookie("ordergate_session").Value
	s := ts.do(t, "GET", "/api/v1/session", "", "", cookie)
	if s.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/session with the cookie = %d %s, want 200", s.Status, s.Body)
	}
	csrf, _ := s.JSON(t)["csrf_token"].(string)
	if csrf == "" {
		t.Fatalf("csrf_token missing in %s", s.Body)
	}

	bearerLogin := ts.login(t)
	bearer := "Authorization: Bearer " + bearerLogin.JSON(t)["session_token"].(string)

	tests := []struct {
		name       string
		header     []string
		wantStatus int
	}{
		{"cookie without token", []string{cookie}, http.StatusForbidden},
		{"cookie with wrong token", []string{cookie, "X-CSRF-Token: " + csrf + "x"}, http.StatusForbidden},
		{"cookie with token", []string{cookie, "X-CSRF-Token: " + csrf}, http.StatusNoContent},
		{"bearer without token", []string{bearer}, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ts.do(t, "POST", "/api/v1/logout", jsonType, "", tt.header...)
			if got, want := a.Status, tt.wantStatus; got != want {
				t.Errorf("POST /api/v1/logout = %d %s, want %d", got, a.Body, want)
			}
			if tt.wantStatus == http.StatusForbidden {
				if got, want := a.JSON(t)["error"], ordergate.EFORBIDDEN; got != want {
					t.Errorf("error = %v, want %v", got, want)
				}
			}
		})
	}
	for _, h := range []string{cookie, bearer} {
		if a := ts.do(t, "GET", "/api/v1/session", "", "", h); a.Status != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/session after logout = %d, want 401", a.Status)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, nil)
	requests := []struct {
		method, path, contentType, body string
	}{
		{"GET", "/healthz", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/metrics", "", ""},
		{"GET", "/login", "", ""},
		{"GET", "/", "", ""},
		{"GET", "/static/app.css", "", ""},
		{"GET", "/api/v1/session", "", ""},
		{"GET", "/api/v1/nothing-here", "", ""},
		{"POST", "/api/v1/login", jsonType, "{"},
		{"POST", "/api/v1/login", jsonType, loginBody("alice", "wrong password")},
		{"POST", "/api/v1/login", jsonType, loginBody("alice", alicePassword)},
		{"POST", "/api/v1/login", "application/x-www-form-urlencoded", "a=b"},
	}
	for _, r := range requests {
		a := ts.do(t, r.method, r.path, r.contentType, r.body)
		for _, h := range []struct{ name, want string }{
			{"X-Content-Type-Options", "nosniff"},
			{"Referrer-Policy", "no-referrer"},
			{"X-Frame-Options", "DENY"},
		} {
			if got := a.Header.Get(h.name); got != h.want {
				t.Errorf("%s %s (%d): %s = %q, want %q", r.method, r.path, a.Status, h.name, got, h.want)
			}
		}
		csp := a.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s (%d): Content-Security-Policy = %q, want it to contain %q", r.method, r.path, a.Status, csp, want)
			}
		}
		if got := a.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s %s over http: Strict-Transport-Security = %q, want none", r.method, r.path, got)
		}
	}
}

func TestOperationalEndpoints(t *testing.T) {
	ts := newTestServer(t, nil)
	token := ts.login(t).JSON(t)["session_token"].(string)
	ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", "wrong password"))
	ts.do(t, "GET", "/api/v1/session", "", "", "Authorization: Bearer "+token)

	tests := []struct {
		path         string
		wantContains []string
	}{
		{"/healthz", []string{`"status":"ok"`}},
		{"/readyz", []string{`"status":"ready"`}},
		{"/metrics", []string{
			`ordergate_login_step_seconds_bucket{outcome="ok",step="password"`,
			`ordergate_login_step_seconds_count{outcome="invalid_credentials",step="password"} 1`,
			`ordergate_logins_total{outcome="authenticated"} 1`,
			`ordergate_logins_total{outcome="invalid_credentials"} 1`,
			`ordergate_http_request_seconds_count{code="4xx",route="POST /api/v1/login"} 1`,
			// A request with a session is counted under its route too.
			`ordergate_http_request_seconds_count{code="2xx",route="GET /api/v1/session"} 1`,
		}},
	}
	for _, tt := range tests {
		a := ts.do(t, "GET", tt.path, "", "")
		if got, want := a.Status, http.StatusOK; got != want {
			t.Errorf("GET %s = %d %s, want %d", tt.path, got, a.Body, want)
		}
		for _, want := range tt.wantContains {
			if !bytes.Contains(a.Body, []byte(want)) {
				t.Errorf("GET %s: body lacks %q", tt.path, want)
			}
		}
	}
}

func TestReadyzDatabaseDown(t *testing.T) {
	clock := newFakeClock()
	db := MustOpenDB(t, clock)
	log := slog.New(slog.DiscardHandler)
	srv := web.NewServer(auth.NewService(db, MustOpenKeyring(t), clock, log), db, web.NewMetrics(), log)
	db.Close()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if got, want := rec.Code, http.StatusServiceUnavailable; got != want {
		t.Errorf("GET /readyz with the database closed = %d %s, want %d", got, rec.Body, want)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	ts := newTestServer(t, nil)
	token := ts.login(t).JSON(t)["session_token"].(string)
	idle := auth.DefaultSessionPolicy.AAL1.Idle
	bearer := "Authorization: Bearer " + token

	// Each use within the idle limit moves the idle timer; a gap of the
	// whole limit ends the session.
	steps := []struct {
		advance    time.Duration
		wantStatus int
	}{
		{idle - time.Minute, http.StatusOK},
		{idle - time.Minute, http.StatusOK},
		{idle, http.StatusUnauthorized},
		{0, http.StatusUnauthorized},
	}
	for i, st := range steps {
		ts.Clock.Add(st.advance)
		a := ts.do(t, "GET", "/api/v1/session", "", "", bearer)
		if got, want := a.Status, st.wantStatus; got != want {
			t.Errorf("step %d (+%v): GET /api/v1/session = %d %s, want %d", i, st.advance, got, a.Body, want)
		}
	}
}

func TestClientIP(t *testing.T) {
	srv := &web.Server{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted peer's XFF ignored", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy", "10.0.0.2:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"right-most untrusted hop", "10.0.0.2:5555", []string{"192.0.2.66, 198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"several header lines", "10.0.0.2:5555", []string{"192.0.2.66", "198.51.100.1, 10.1.1.1"}, "198.51.100.1"},
		{"only proxies", "10.0.0.2:5555", []string{"10.0.0.3, 10.0.0.4"}, "10.0.0.3"},
		{"garbage makes the client unknown", "10.0.0.2:5555", []string{"198.51.100.1, not-an-ip, 10.0.0.4"}, web.UnknownClient},
		{"trusted proxy without XFF: unknown, not the proxy", "10.0.0.2:5555", nil, web.UnknownClient},
		{"trusted proxy with an empty XFF", "10.0.0.2:5555", []string{""}, web.UnknownClient},
		{"untrusted peer without XFF", "198.51.100.9:5555", nil, "198.51.100.9"},
		{"IPv6 trusted proxy", "[fd00::1]:5555", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:5555", []string{"198.51.100.1"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := srv.ClientIP(r); got != tt.want {
				t.Errorf("ClientIP(remote %s, XFF %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}
