package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// csrfOf returns the CSRF token of the session token.
func csrfOf(t *testing.T, ts *testServer, token string) string {
	t.Helper()
	a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(token))
	if a.Status != 200 {
		t.Fatalf("session = %d %s", a.Status, a.Body)
	}
	return a.JSON(t)["csrf_token"].(string)
}

func TestConsolePages(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	csrf := csrfOf(t, ts, carol.token)
	alice := loginToken(t, ts, "alice", alicePassword)
	aliceID := userID(t, ts, "alice")

	for _, tt := range []struct {
		path, token string
		status      int
		text        string
	}{
		{"/admin", carol.token, 200, "Second-factor adoption"},
		{"/admin/users", carol.token, 200, "alice"},
		{"/admin/users?mfa=enrolled", carol.token, 200, "carol"},
		{"/admin/users/" + aliceID, carol.token, 200, "Disable and sign out"},
		{"/admin/audit?action=login", carol.token, 200, "Verify chain"},
		{"/admin/policy", carol.token, 200, "Rollout phases"},
		{"/admin", alice, 403, "for administrators"},
		{"/admin", "", 303, ""},
		{"/invitations/nonsense", "", 404, "not valid"},
	} {
		a := pageRequest(t, ts.URL, "GET", tt.path, tt.token, nil)
		if a.Status != tt.status || !strings.Contains(string(a.Body), tt.text) {
			t.Errorf("GET %s = %d, want %d with %q:\n%.400s", tt.path, a.Status, tt.status, tt.text, a.Body)
		}
		if !strings.Contains(a.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: CSP = %q", tt.path, a.Header.Get("Content-Security-Policy"))
		}
	}

	form := url.Values{"username": {"frank"}, "roles": {"clerk"}, "email": {"frank@example.com"}}
	if a := pageRequest(t, ts.URL, "POST", "/admin/invitations", carol.token, form); a.Status != 403 {
		t.Errorf("invite without CSRF token = %d, want 403", a.Status)
	}
	form.Set("csrf_token", csrf)
	a := pageRequest(t, ts.URL, "POST", "/admin/invitations", carol.token, form)
	link := regexp.MustCompile(`https://ordergate\.example/invitations/[A-Za-z0-9_-]+`).FindString(string(a.Body))
	if a.Status != 201 || link == "" {
		t.Fatalf("invite = %d, no link in %.600s", a.Status, a.Body)
	}
	path := strings.TrimPrefix(link, consoleURL)
	if a := pageRequest(t, ts.URL, "GET", path, "", nil); a.Status != 200 || !strings.Contains(string(a.Body), "frank") {
		t.Errorf("invitation page = %d %.300s", a.Status, a.Body)
	}
	if a := pageRequest(t, ts.URL, "POST", path, "", url.Values{"password": {"frank's passphrase"}, "password_again": {"other"}}); a.Status != 400 {
		t.Errorf("different passwords = %d, want 400", a.Status)
	}
	a = pageRequest(t, ts.URL, "POST", path, "", url.Values{"password": {"frank's passphrase"}, "password_again": {"frank's passphrase"}})
	if a.Status != 303 || a.Cookie("ordergate_session") == nil {
		t.Fatalf("accept invitation = %d, want 303 with a session cookie", a.Status)
	}
	if a := pageRequest(t, ts.URL, "GET", path, "", nil); a.Status != 404 || !strings.Contains(string(a.Body), "already used") {
		t.Errorf("used invitation page = %d %.300s", a.Status, a.Body)
	}

	if a := pageRequest(t, ts.URL, "POST", "/admin/users/"+aliceID+"/disable", carol.token, url.Values{"csrf_token": {csrf}}); a.Status != 303 {
		t.Fatalf("disable form = %d %.300s", a.Status, a.Body)
	}
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(alice)); a.Status != 401 {
		t.Errorf("alice's session after disable = %d, want 401", a.Status)
	}
	a = pageRequest(t, ts.URL, "POST", "/admin/audit/verify", carol.token, url.Values{"csrf_token": {csrf}})
	if a.Status != 200 || !strings.Contains(string(a.Body), "Chain intact") {
		t.Errorf("verify form = %d %.300s", a.Status, a.Body)
	}
	a = pageRequest(t, ts.URL, "POST", "/admin/users/"+aliceID+"/roles", carol.token, url.Values{"csrf_token": {csrf}, "roles": {"clerk", "approver"}, "groups": {"ops"}})
	if a.Status != 303 {
		t.Fatalf("roles form = %d %.300s", a.Status, a.Body)
	}
	if a := pageRequest(t, ts.URL, "GET", "/admin/users/"+aliceID, carol.token, nil); !strings.Contains(string(a.Body), "Waiting for approval") {
		t.Errorf("user page lacks the pending grant: %.300s", a.Body)
	}
}
