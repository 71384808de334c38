package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/web"
)

// formClient is a browser without JavaScript: it keeps cookies, does not
// follow redirects, and sends the CSRF token of the last page it saw.
type formClient struct {
	t    *testing.T
	ts   *testServer
	c    *http.Client
	csrf string
}

func newFormClient(t *testing.T, ts *testServer) *formClient {
	c := &http.Client{Jar: &fakeClockJar{cookies: map[string]string{}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &formClient{t: t, ts: ts, c: c}
}

// fakeClockJar keeps cookies by name for one test server. Unlike
// net/http/cookiejar it ignores Expires, which the server sets from its
// fake clock; it honours deletion (MaxAge < 0).
type fakeClockJar struct {
	mu      sync.Mutex
	cookies map[string]string
}

func (j *fakeClockJar) SetCookies(_ *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		if c.MaxAge < 0 || c.Value == "" {
			delete(j.cookies, c.Name)
			continue
		}
		j.cookies[c.Name] = c.Value
	}
}

func (j *fakeClockJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for name, value := range j.cookies {
		out = append(out, &http.Cookie{Name: name, Value: value})
	}
	return out
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// send makes one request and remembers the page's CSRF token.
func (fc *formClient) send(req *http.Request) answer {
	fc.t.Helper()
	a := send(fc.t, fc.c, req)
	if m := csrfField.FindSubmatch(a.Body); m != nil {
		fc.csrf = string(m[1])
	}
	return a
}

func (fc *formClient) get(path string) answer {
	fc.t.Helper()
	req, err := http.NewRequest("GET", fc.ts.URL+path, nil)
	if err != nil {
		fc.t.Fatal(err)
	}
	return fc.send(req)
}

// post sends form, adding the CSRF token unless it has one.
func (fc *formClient) post(path string, form url.Values) answer {
	fc.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf_token") {
		form.Set("csrf_token", fc.csrf)
	}
	req, err := http.NewRequest("POST", fc.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		fc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return fc.send(req)
}

// signIn fills in the login form and returns the answer to it.
func (fc *formClient) signIn(username, password string) answer {
	fc.t.Helper()
	fc.get("/login")
	return fc.post("/login", url.Values{"username": {username}, "password": {password}})
}

// wantRedirect checks that a is a 303 to location.
func wantRedirect(t *testing.T, step string, a answer, location string) {
	t.Helper()
	if a.Status != http.StatusSeeOther || a.Header.Get("Location") != location {
		t.Fatalf("%s = %d to %q, want 303 to %q; body %.300s", step, a.Status, a.Header.Get("Location"), location, a.Body)
	}
}

// wantPage checks a's status and that its body holds every one of texts.
func wantPage(t *testing.T, step string, a answer, status int, texts ...string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("%s = %d, want %d; body %.500s", step, a.Status, status, a.Body)
	}
	for _, s := range texts {
		if !strings.Contains(string(a.Body), s) {
			t.Errorf("%s: page lacks %q; body %.2000s", step, s, a.Body)
		}
	}
}

var (
	secretText  = regexp.MustCompile(`data-secret="([A-Z2-7]+)"`)
	enrollPath  = regexp.MustCompile(`^/enroll/totp/([A-Za-z0-9_]+)$`)
	backupCodes = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

// enrollByForm takes fc, just signed in as an enrollment-only session,
// through the wizard and returns the TOTP secret and the backup codes.
func enrollByForm(t *testing.T, fc *formClient) (secret string, codes []string) {
	t.Helper()
	wantPage(t, "wizard step 1", fc.get("/enroll"), http.StatusOK, "Step 1 of 3", `value="totp"`)
	a := fc.post("/enroll", url.Values{"method": {"totp"}})
	loc := a.Header.Get("Location")
	if a.Status != http.StatusSeeOther || !enrollPath.MatchString(loc) {
		t.Fatalf("choose TOTP = %d to %q, want 303 to /enroll/totp/{id}", a.Status, loc)
	}
	a = fc.get(loc)
	wantPage(t, "wizard step 2", a, http.StatusOK, "Step 2 of 3", `src="data:image/png;base64,`, `href="otpauth://totp/`)
	m := secretText.FindSubmatch(a.Body)
	if m == nil {
		t.Fatalf("wizard step 2 shows no secret: %s", a.Body)
	}
	secret = string(m[1])

	a = fc.post(loc, url.Values{"code": {oathtool(t, secret, fc.ts.Clock.Now())}})
	wantPage(t, "wizard step 3", a, http.StatusOK, "Step 3 of 3", "I saved these codes",
		`download="ordergate-backup-codes.txt"`, `href="data:text/plain;charset=utf-8,`)
	for _, m := range backupCodes.FindAllSubmatch(a.Body, -1) {
		codes = append(codes, string(m[1]))
	}
	if len(codes) != 10 {
		t.Fatalf("wizard step 3 shows %d backup codes, want 10", len(codes))
	}
	wantRedirect(t, "done", fc.post("/enroll/done", url.Values{"saved": {"yes"}, "next": {"enroll"}}), "/")
	return secret, codes
}

// addAdmin adds the admin carol with the default policy (second factor
// mandatory for admins).
func addAdmin(t *testing.T, ts *testServer) {
	t.Helper()
	_, err := ts.Auth.CreateUser(context.Background(), auth.UserActor(&auth.User{}, nil),
		auth.NewUser{Username: "carol", Password: adminPassword, Roles: []string{auth.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoginFormNextStep: the login form sends each login state to its
// page, and pages a half-signed-in browser may not see send it back there.
func TestLoginFormNextStep(t *testing.T) {
	ts := newAdminServer(t)
	enrolled := newFormClient(t, ts)
	wantRedirect(t, "first admin login", enrolled.signIn("carol", adminPassword), "/enroll")
	enrollByForm(t, enrolled)

	tests := []struct {
		name, username, password string
		wantNext                 string
		// others are pages that must send this session to wantNext.
		others []string
	}{
		{"one factor", "alice", alicePassword, "/", nil},
		{"enrolled admin", "carol", adminPassword, "/login/second-factor", []string{"/", "/enroll", "/account/security", "/admin/adoption"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFormClient(t, ts)
			wantRedirect(t, "sign in", fc.signIn(tt.username, tt.password), tt.wantNext)
			for _, p := range tt.others {
				wantRedirect(t, "GET "+p, fc.get(p), tt.wantNext)
			}
		})
	}
	t.Run("enrollment-only", func(t *testing.T) {
		ts := newAdminServer(t)
		fc := newFormClient(t, ts)
		wantRedirect(t, "sign in", fc.signIn("carol", adminPassword), "/enroll")
		for _, p := range []string{"/", "/account/security", "/admin/adoption", "/login/second-factor"} {
			wantRedirect(t, "GET "+p, fc.get(p), "/enroll")
		}
		if a := fc.get("/api/v1/session"); a.Status != http.StatusForbidden {
			t.Errorf("enrollment-only session reading the API = %d, want 403", a.Status)
		}
	})
	t.Run("no session", func(t *testing.T) {
		fc := newFormClient(t, ts)
		for _, p := range []string{"/", "/enroll", "/account/security", "/admin/adoption", "/login/second-factor"} {
			wantRedirect(t, "GET "+p, fc.get(p), "/login")
		}
	})
}

// TestEnrollWizard takes a forced enrollment through the wizard with a
// wrong code, a malformed code, a missing CSRF token and an unticked box on
// the way, then checks the session is signed in at AAL2.
func TestEnrollWizard(t *testing.T) {
	ts := newAdminServer(t)
	fc := newFormClient(t, ts)
	wantRedirect(t, "sign in", fc.signIn("carol", adminPassword), "/enroll")
	before := fc.csrf

	a := fc.get("/enroll")
	wantPage(t, "step 1", a, http.StatusOK, "needs a second factor before you can continue", "Authenticator app")
	if strings.Contains(string(a.Body), `value="sms"`) {
		t.Errorf("step 1 offers SMS, which the policy does not allow here")
	}
	if a := fc.post("/enroll", url.Values{"method": {"carrier-pigeon"}}); a.Status != http.StatusBadRequest {
		t.Errorf("choose an unknown method = %d, want 400", a.Status)
	}
	if a := fc.post("/enroll", url.Values{"method": {"totp"}, "csrf_token": {"forged"}}); a.Status != http.StatusForbidden {
		t.Errorf("choose without the CSRF token = %d, want 403", a.Status)
	}
	a = fc.post("/enroll", url.Values{"method": {"totp"}})
	loc := a.Header.Get("Location")
	if !enrollPath.MatchString(loc) {
		t.Fatalf("choose TOTP = %d to %q", a.Status, loc)
	}
	secret := string(secretText.FindSubmatch(fc.get(loc).Body)[1])

	bad := []struct {
		name, code string
		status     int
		message    string
	}{
		{"wrong", wrongCode(oathtool(t, secret, ts.Clock.Now())), http.StatusUnauthorized, "That code did not work"},
		{"letters", "abcdef", http.StatusBadRequest, "The code must be 6 digits."},
		{"empty", "", http.StatusBadRequest, "The code must be 6 digits."},
	}
	for _, tt := range bad {
		a := fc.post(loc, url.Values{"code": {tt.code}})
		// The page stays on step 2, with the same secret, so the user can
		// try again without scanning a new code.
		wantPage(t, "confirm "+tt.name, a, tt.status, tt.message, "Step 2 of 3", secret)
	}

	a = fc.post(loc, url.Values{"code": {oathtool(t, secret, ts.Clock.Now())}})
	wantPage(t, "confirm", a, http.StatusOK, "Step 3 of 3")
	if fc.csrf == before {
		t.Errorf("the session kept its CSRF token after the factor was confirmed; want a new session")
	}
	if a := fc.get(loc); a.Status != http.StatusSeeOther {
		t.Errorf("step 2 of a confirmed factor = %d, want a redirect", a.Status)
	}
	wantPage(t, "done unticked", fc.post("/enroll/done", url.Values{"next": {"enroll"}}), http.StatusBadRequest,
		"Please confirm that you saved your backup codes.")
	wantRedirect(t, "done", fc.post("/enroll/done", url.Values{"saved": {"yes"}, "next": {"enroll"}}), "/")
	wantPage(t, "home", fc.get("/"), http.StatusOK, "Welcome, carol", "assurance level 2")
}

// wrongCode returns a six-digit code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// TestSecondFactorPage signs in on the second-factor page with wrong and
// malformed codes, a backup code, and a TOTP code, and refuses a reused one.
func TestSecondFactorPage(t *testing.T) {
	ts := newAdminServer(t)
	fc := newFormClient(t, ts)
	fc.signIn("carol", adminPassword)
	secret, codes := enrollByForm(t, fc)

	tests := []struct {
		name, method, code string
		status             int
		want               []string
	}{
		{"wrong totp", "totp", wrongCode(oathtool(t, secret, ts.Clock.Now().Add(30*time.Second))), http.StatusUnauthorized, []string{"That code did not work"}},
		{"malformed totp", "totp", "12ab56", http.StatusBadRequest, []string{"The code must be 6 or 8 digits."}},
		{"unknown method", "carrier-pigeon", "123456", http.StatusBadRequest, []string{"Choose a way"}},
		{"wrong backup code", "backup_code", "aaaaa-aaaaa", http.StatusUnauthorized, []string{"That code did not work"}},
		{"backup code", "backup_code", codes[0], http.StatusSeeOther, nil},
		{"used backup code", "backup_code", codes[0], http.StatusUnauthorized, []string{"That code did not work"}},
		{"totp", "totp", oathtool(t, secret, ts.Clock.Now().Add(30*time.Second)), http.StatusSeeOther, nil},
		{"reused totp", "totp", oathtool(t, secret, ts.Clock.Now().Add(30*time.Second)), http.StatusUnauthorized, []string{"That code did not work"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFormClient(t, ts)
			wantRedirect(t, "sign in", fc.signIn("carol", adminPassword), "/login/second-factor")
			wantPage(t, "second-factor page", fc.get("/login/second-factor"), http.StatusOK, `id="totp"`, `id="backup-code"`)
			a := fc.post("/login/second-factor", url.Values{"method": {tt.method}, "code": {tt.code}})
			if tt.status == http.StatusSeeOther {
				next := "/"
				if tt.method == "backup_code" {
					next = "/account/secure" // a backup code leads to "secure your account" first
				}
				wantRedirect(t, "second factor", a, next)
				home := fc.get("/")
				wantPage(t, "home", home, http.StatusOK, "Welcome, carol", "assurance level 2")
				if used := strings.Contains(string(home.Body), "You signed in with a backup code: 9 left."); used != (tt.method == "backup_code") {
					t.Errorf("home shows the backup-code notice = %v, want %v", used, !used)
				}
				return
			}
			wantPage(t, "second factor", a, tt.status, tt.want...)
		})
	}
}

// TestReminderBanner: before a rollout phase's deadline the home page
// reminds the user of it, until the user enrolls.
func TestReminderBanner(t *testing.T) {
	ts := newTestServer(t, func(s *web.Server) {
		s.Auth.Policy.Available = []string{auth.MethodTOTP, auth.MethodBackupCode}
	})
	now := ts.Clock.Now()
	ts.Auth.Policy.Rollout = []auth.Phase{{Roles: []string{"*"}, Methods: []string{auth.MethodTOTP},
		EnforceFrom: now.AddDate(0, 1, 0), Grace: 14 * 24 * time.Hour}}
	deadline := now.AddDate(0, 1, 14).Format("Monday, 2 January 2006")

	fc := newFormClient(t, ts)
	wantRedirect(t, "sign in", fc.signIn("alice", alicePassword), "/")
	wantPage(t, "home", fc.get("/"), http.StatusOK, `id="enroll-reminder"`, deadline, `href="/enroll"`)

	// An active AAL1 user without a factor may enroll from the banner.
	a := fc.post("/enroll", url.Values{"method": {"totp"}})
	loc := a.Header.Get("Location")
	secret := string(secretText.FindSubmatch(fc.get(loc).Body)[1])
	wantPage(t, "confirm", fc.post(loc, url.Values{"code": {oathtool(t, secret, now)}}), http.StatusOK, "Step 3 of 3")
	wantRedirect(t, "done", fc.post("/enroll/done", url.Values{"saved": {"yes"}}), "/")
	if a := fc.get("/"); strings.Contains(string(a.Body), "enroll-reminder") {
		t.Errorf("home still shows the reminder after enrolling")
	}
}

// TestAccountSecurity renames a factor, removes one after a step-up, and
// makes new backup codes.
func TestAccountSecurity(t *testing.T) {
	ts := newAdminServer(t)
	fc := newFormClient(t, ts)
	fc.signIn("carol", adminPassword)
	secret, _ := enrollByForm(t, fc)

	a := fc.get("/account/security")
	wantPage(t, "account", a, http.StatusOK, "Authenticator app", "10 of 10 backup codes left.", ts.Clock.Now().Format("2006-01-02 15:04 MST"))
	m := regexp.MustCompile(`/account/security/factors/([A-Za-z0-9_]+)/name`).FindSubmatch(a.Body)
	if m == nil {
		t.Fatalf("account page has no rename form: %s", a.Body)
	}
	id := string(m[1])

	renames := []struct {
		name   string
		status int
		want   string
	}{
		{"", http.StatusBadRequest, "The name 1-64 characters."},
		{strings.Repeat("x", 65), http.StatusBadRequest, "The name 1-64 characters."},
		{"Phone <b>", http.StatusSeeOther, ""},
	}
	for _, tt := range renames {
		a := fc.post("/account/security/factors/"+id+"/name", url.Values{"name": {tt.name}})
		if tt.status == http.StatusSeeOther {
			wantRedirect(t, "rename", a, "/account/security?done=renamed")
			continue
		}
		wantPage(t, "rename to "+tt.name, a, tt.status, tt.want)
	}
	wantPage(t, "renamed", fc.get("/account/security?done=renamed"), http.StatusOK, "The factor was renamed.", `value="Phone &lt;b&gt;"`)

	// New backup codes replace the old ones and show once.
	a = fc.post("/account/security/backup-codes", nil)
	wantPage(t, "new backup codes", a, http.StatusOK, "Your backup codes", `name="next" value="account"`)
	if n := len(backupCodes.FindAllSubmatch(a.Body, -1)); n != 10 {
		t.Errorf("new backup codes page shows %d codes, want 10", n)
	}
	wantRedirect(t, "done", fc.post("/enroll/done", url.Values{"saved": {"yes"}, "next": {"account"}}), "/account/security")

	// The sign-in factor is older than five minutes: removal asks for a
	// fresh one first.
	ts.Clock.Add(6 * time.Minute)
	remove := "/account/security/factors/" + id + "/remove"
	wantPage(t, "remove", fc.post(remove, nil), http.StatusOK, "needs a fresh second factor", `id="stepup-totp"`)
	wantPage(t, "remove, wrong code", fc.post(remove, url.Values{"method": {"totp"}, "code": {wrongCode(oathtool(t, secret, ts.Clock.Now()))}}),
		http.StatusUnauthorized, "That code did not work", `id="stepup-totp"`)
	wantRedirect(t, "remove with code", fc.post(remove, url.Values{"method": {"totp"}, "code": {oathtool(t, secret, ts.Clock.Now())}}),
		"/account/security?done=removed")
	wantPage(t, "removed", fc.get("/account/security?done=removed"), http.StatusOK, "The factor was removed.", "You have no second factor yet.")
	if a := fc.post("/account/security/factors/fac_nosuchfactor/remove", nil); a.Status != http.StatusNotFound {
		t.Errorf("remove an unknown factor = %d, want 404", a.Status)
	}
}

// TestAdoptionPage: admins and auditors at AAL2 see adoption per role;
// everyone else does not.
func TestAdoptionPage(t *testing.T) {
	ts := newAdminServer(t)
	admin := newFormClient(t, ts)
	admin.signIn("carol", adminPassword)
	enrollByForm(t, admin)
	clerk := newFormClient(t, ts)
	clerk.signIn("alice", alicePassword)

	tests := []struct {
		name   string
		fc     *formClient
		status int
		want   []string
	}{
		{"clerk", clerk, http.StatusForbidden, []string{"This page is for administrators and auditors."}},
		{"admin", admin, http.StatusOK, []string{
			"1 of 2 users enrolled", `id="overall-percent">50.0%`, "<td>admin</td><td>1</td><td>1</td>",
			"<td>clerk</td><td>0</td><td>1</td>", "Authenticator app: 1", "<svg class=\"trend\"", ts.Clock.Now().Format(time.DateOnly)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantPage(t, "adoption", tt.fc.get("/admin/adoption"), tt.status, tt.want...)
		})
	}
}
