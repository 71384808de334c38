package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/risk"
)

var forgetDeviceForm = regexp.MustCompile(`action="/account/security/devices/([A-Za-z0-9_-]+)/forget"`)

// rememberServer is newAdminServer with adaptive authentication on, device
// cookies signed, and admins (not approvers) allowed to remember browsers
// for 7 days.
func rememberServer(t *testing.T) *testServer {
	t.Helper()
	ts := newAdminServer(t)
	ts.Auth.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{}, ts.Clock), Store: ts.Auth.Store.(auth.RiskStore),
		RememberRoles: []string{auth.RoleAdmin}, RememberFor: 7 * 24 * time.Hour}
	ts.DeviceKey = []byte("0123456789abcdef0123456789abcdef")
	return ts
}

// signOut signs fc out from whatever page its session is on.
func signOut(t *testing.T, fc *formClient, step string) {
	t.Helper()
	if a := fc.get("/"); a.Status == http.StatusSeeOther {
		fc.get(a.Header.Get("Location"))
	}
	wantRedirect(t, step+": sign out", fc.post("/logout", nil), "/login")
}

// rememberedDevices lists the user's remembered browsers through the API.
func rememberedDevices(t *testing.T, fc *formClient) []string {
	t.Helper()
	a := fc.get("/api/v1/me/devices")
	if a.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/me/devices = %d %s", a.Status, a.Body)
	}
	var out []string
	for _, d := range a.JSON(t)["devices"].([]any) {
		if m := d.(map[string]any); m["remembered_until"] != nil {
			out = append(out, m["id"].(string))
		}
	}
	return out
}

// TestRememberBrowserPages: "trust this browser" on the second-factor page
// lets the next login from the same browser and network skip the second
// factor; forgetting it (one, or all) on the account page brings it back.
func TestRememberBrowserPages(t *testing.T) {
	ts := rememberServer(t)
	fc := newFormClient(t, ts)
	wantRedirect(t, "first sign-in", fc.signIn("carol", adminPassword), "/enroll")
	secret, _ := enrollByForm(t, fc)
	account := fc.get("/account/security")
	wantPage(t, "account page before", account, http.StatusOK, "Remembered browsers", "No browser skips the second factor.")

	// signInWithCode signs carol in again with this browser, ticking
	// the box when remember, and returns the answer to the code form.
	signInWithCode := func(step string, remember bool) answer {
		t.Helper()
		signOut(t, fc, step)
		ts.Clock.Add(time.Hour)
		wantRedirect(t, step+": sign in", fc.signIn("carol", adminPassword), "/login/second-factor")
		wantPage(t, step+": second-factor page", fc.get("/login/second-factor"), http.StatusOK,
			`name="remember_device" value="yes"`, "Trust this browser for 7 days")
		form := url.Values{"method": {"totp"}, "code": {oathtool(t, secret, ts.Clock.Now())}}
		if remember {
			form.Set("remember_device", "yes")
		}
		return fc.post("/login/second-factor", form)
	}
	// signInSkips checks that the password alone now signs carol in.
	signInSkips := func(step string, skip bool) {
		t.Helper()
		signOut(t, fc, step)
		ts.Clock.Add(time.Hour)
		want := "/login/second-factor"
		if skip {
			want = "/"
		}
		wantRedirect(t, step+": sign in", fc.signIn("carol", adminPassword), want)
	}

	a := signInWithCode("without the box", false)
	wantRedirect(t, "code without the box", a, "/")
	if ds := rememberedDevices(t, fc); len(ds) != 0 {
		t.Fatalf("remembered devices without the box = %v, want none", ds)
	}
	signInSkips("after the unticked box", false)

	a = signInWithCode("with the box", true)
	wantRedirect(t, "code with the box", a, "/")
	if c := a.Cookie("ordergate_device"); c == nil || c.MaxAge <= 0 {
		t.Errorf("code with the box set no device cookie: %v", a.Header["Set-Cookie"])
	}
	ds := rememberedDevices(t, fc)
	if len(ds) != 1 {
		t.Fatalf("remembered devices after the box = %v, want one", ds)
	}
	signInSkips("remembered browser", true)

	// Forget it from the account page.
	account = fc.get("/account/security")
	wantPage(t, "account page", account, http.StatusOK, "Remembered browsers", "(this browser)", "Forget all")
	m := forgetDeviceForm.FindSubmatch(account.Body)
	if m == nil || string(m[1]) != ds[0] {
		t.Fatalf("account page has no forget form for %s", ds[0])
	}
	if a := fc.post("/account/security/devices/"+ds[0]+"/forget", url.Values{"csrf_token": {"forged"}}); a.Status != http.StatusForbidden {
		t.Errorf("forget without the CSRF token = %d, want 403", a.Status)
	}
	wantRedirect(t, "forget", fc.post("/account/security/devices/"+ds[0]+"/forget", nil), "/account/security?done=device_forgotten")
	wantPage(t, "account page after forget", fc.get("/account/security?done=device_forgotten"), http.StatusOK,
		"The browser was forgotten", "No browser skips the second factor.")
	if a := fc.post("/account/security/devices/"+ds[0]+"/forget", nil); a.Status != http.StatusNotFound {
		t.Errorf("forget a forgotten browser = %d, want 404", a.Status)
	}
	signInSkips("after forget", false)

	// Remember again, then forget all.
	fc.get("/login/second-factor")
	a = fc.post("/login/second-factor", url.Values{"method": {"totp"}, "code": {oathtool(t, secret, ts.Clock.Now())}, "remember_device": {"yes"}})
	wantRedirect(t, "code with the box again", a, "/")
	signInSkips("remembered again", true)
	fc.get("/account/security")
	wantRedirect(t, "forget all", fc.post("/account/security/devices/forget-all", nil), "/account/security?done=devices_forgotten")
	if ds := rememberedDevices(t, fc); len(ds) != 0 {
		t.Fatalf("remembered devices after forget all = %v, want none", ds)
	}
	signInSkips("after forget all", false)
}

// TestRememberBrowserNotOffered: an approver, whose role may not remember
// browsers, sees no box, and a forged one remembers nothing.
func TestRememberBrowserNotOffered(t *testing.T) {
	ts := rememberServer(t)
	if _, err := ts.Auth.CreateUser(context.Background(), auth.UserActor(&auth.User{}, nil),
		auth.NewUser{Username: "dave", Password: adminPassword, Roles: []string{auth.RoleApprover}}); err != nil {
		t.Fatal(err)
	}
	dave := signInWithTOTP(t, ts, "dave", adminPassword)
	ts.Clock.Add(time.Minute)

	fc := newFormClient(t, ts)
	wantRedirect(t, "sign in", fc.signIn("dave", adminPassword), "/login/second-factor")
	a := fc.get("/login/second-factor")
	wantPage(t, "second-factor page", a, http.StatusOK, `name="method" value="totp"`)
	if strings.Contains(string(a.Body), "remember_device") || strings.Contains(string(a.Body), "Trust this browser") {
		t.Errorf("second-factor page offers to remember the browser of an approver")
	}
	a = fc.post("/login/second-factor", url.Values{"method": {"totp"}, "code": {oathtool(t, dave.secret, ts.Clock.Now())}, "remember_device": {"yes"}})
	wantRedirect(t, "code with a forged box", a, "/")
	if ds := rememberedDevices(t, fc); len(ds) != 0 {
		t.Errorf("remembered devices after a forged box = %v, want none", ds)
	}
	signOut(t, fc, "sign out")
	ts.Clock.Add(time.Hour)
	wantRedirect(t, "sign in again", fc.signIn("dave", adminPassword), "/login/second-factor")
}
