package web_test

import (
	"context"
	"encoding/base32"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// totpAt computes the code of a base32 secret shown by the wizard.
func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return totp.Code(seed, at, totp.DefaultParams)
}

var (
	smsCodePath = regexp.MustCompile(`^/enroll/sms/([A-Za-z0-9_]+)$`)
	removeForm  = regexp.MustCompile(`action="/account/security/factors/([A-Za-z0-9_]+)/remove"`)
	resetRow    = regexp.MustCompile(`data-reset="([A-Za-z0-9_]+)"`)
	linkText    = regexp.MustCompile(`id="recovery-link" class="secret">https://oms\.example\.com(/recovery/[A-Za-z0-9_-]+)<`)
)

// mandatoryClerks makes clerks need a second factor, like admins.
func mandatoryClerks(ts *smsServer) {
	ts.Auth.Policy.MandatoryRoles = append(ts.Auth.Policy.MandatoryRoles, auth.RoleClerk)
}

// TestEnrollSMSByForm enrolls text-message codes through the wizard's
// forms (with the notice that SMS is weaker and the stronger choices
// offered), then signs in with "text me a code".
func TestEnrollSMSByForm(t *testing.T) {
	ts := newSMSServer(t, nil)
	mandatoryClerks(ts)
	ts.addUser(t, "sam", "", auth.RoleClerk)
	fc := newFormClient(t, ts.testServer)
	wantRedirect(t, "sign in", fc.signIn("sam", adminPassword), "/enroll")
	wantPage(t, "wizard step 1", fc.get("/enroll"), http.StatusOK, `value="sms"`, "weaker: codes can be intercepted")
	wantRedirect(t, "choose SMS", fc.post("/enroll", url.Values{"method": {"sms"}}), "/enroll/sms")
	wantPage(t, "phone form", fc.get("/enroll/sms"), http.StatusOK, "weakest second factor", "Use Authenticator app instead")

	bad := []struct {
		name, phone, want string
	}{
		{"not a number", "not a phone", "Phone: not a phone number"},
		{"no country", "4155550100", "Phone: not a phone number"},
		{"landline", "+442079460000", "Phone: a landline cannot receive text messages"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			wantPage(t, "phone "+b.phone, fc.post("/enroll/sms", url.Values{"phone": {b.phone}}), http.StatusUnprocessableEntity, b.want)
		})
	}
	if n := ts.phones.count("+14155550100"); n != 0 {
		t.Fatalf("texts before a valid number = %d, want 0", n)
	}

	a := fc.post("/enroll/sms", url.Values{"phone": {"+1 415 555 0100"}})
	loc := a.Header.Get("Location")
	if a.Status != http.StatusSeeOther || !smsCodePath.MatchString(loc) {
		t.Fatalf("phone form = %d to %q, want 303 to /enroll/sms/{id}", a.Status, loc)
	}
	wantPage(t, "code form", fc.get(loc), http.StatusOK, "1415•••0100", `id="sms-code"`)
	code := ts.phones.code(t, "+14155550100")
	wantPage(t, "wrong code", fc.post(loc, url.Values{"code": {wrongCode(code)}}), http.StatusUnauthorized, "That code did not work")
	a = fc.post(loc, url.Values{"code": {code}})
	wantPage(t, "right code", a, http.StatusOK, "Step 3 of 3", "I saved these codes")
	wantRedirect(t, "done", fc.post("/enroll/done", url.Values{"saved": {"yes"}, "next": {"enroll"}}), "/")

	// Sign in with a texted code.
	fc = newFormClient(t, ts.testServer)
	wantRedirect(t, "sign in again", fc.signIn("sam", adminPassword), "/login/second-factor")
	wantPage(t, "second factor", fc.get("/login/second-factor"), http.StatusOK, `action="/login/second-factor/sms"`, "Text me a code")
	wantPage(t, "text me a code", fc.post("/login/second-factor/sms", nil), http.StatusOK, "Code we texted to &#43;1415•••0100", `id="sms-code"`)
	code = ts.phones.code(t, "+14155550100")
	wantPage(t, "wrong texted code", fc.post("/login/second-factor", url.Values{"method": {"sms"}, "code": {wrongCode(code)}}),
		http.StatusUnauthorized, "That code did not work", `id="sms-code"`)
	wantRedirect(t, "texted code", fc.post("/login/second-factor", url.Values{"method": {"sms"}, "code": {code}}), "/")
	wantPage(t, "home", fc.get("/"), http.StatusOK, "Welcome, sam", "assurance level 2")
}

// failingPhones is an SMS provider that is down.
type failingPhones struct{}

// Send fails like a provider outage.
func (failingPhones) Send(ctx context.Context, to, body string) error {
	return errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
}

// TestSMSPagesProviderOutage: when the provider fails, the pages say the
// code could not be sent and offer the other methods; nothing breaks.
func TestSMSPagesProviderOutage(t *testing.T) {
	ts := newSMSServer(t, nil)
	mandatoryClerks(ts)
	ts.addUser(t, "sam", "", auth.RoleClerk)
	tok := ts.signIn(t, "sam")["session_token"].(string)
	tok, _ = ts.enrollTOTP(t, tok)
	if a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"}); a.Status != http.StatusCreated {
		t.Fatalf("enroll sms = %d %s", a.Status, a.Body)
	} else if c := ts.post(t, tok, "/api/v1/me/factors/sms/"+a.JSON(t)["id"].(string)+"/confirm",
		map[string]string{"code": ts.phones.code(t, "+14155550100")}); c.Status != http.StatusOK {
		t.Fatalf("confirm sms = %d %s", c.Status, c.Body)
	}
	ts.addUser(t, "tim", "", auth.RoleClerk)
	ts.Auth.Recovery.SMS = failingPhones{}

	tests := []struct {
		name, user, wantSignIn string
		path                   string
		form                   url.Values
		// want is what the page offers instead.
		want string
	}{
		{"text me a code", "sam", "/login/second-factor", "/login/second-factor/sms", nil, `id="totp"`},
		{"enroll", "tim", "/enroll", "/enroll/sms", url.Values{"phone": {"+14155550101"}}, "Use Authenticator app instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFormClient(t, ts.testServer)
			wantRedirect(t, "sign in", fc.signIn(tt.user, adminPassword), tt.wantSignIn)
			fc.get(tt.wantSignIn)
			wantPage(t, tt.name, fc.post(tt.path, tt.form), http.StatusServiceUnavailable,
				"Could not send the code, try another method.", tt.want)
		})
	}
}

// TestVouchByForm: a user whose phone an administrator registered must
// confirm it with a texted code before the wizard enrolls a first factor.
func TestVouchByForm(t *testing.T) {
	ts := newSMSServer(t, nil)
	mandatoryClerks(ts)
	ts.addUser(t, "vera", "+1 415 555 0142", auth.RoleClerk)
	fc := newFormClient(t, ts.testServer)
	wantRedirect(t, "sign in", fc.signIn("vera", adminPassword), "/enroll")
	fc.get("/enroll")
	wantRedirect(t, "choose TOTP", fc.post("/enroll", url.Values{"method": {"totp"}}), "/enroll/vouch?method=totp")
	wantPage(t, "vouch page", fc.get("/enroll/vouch?method=totp"), http.StatusOK, "1415•••0142", "Text me a code")
	wantPage(t, "send", fc.post("/enroll/vouch/send", url.Values{"method": {"totp"}}), http.StatusOK, `id="vouch-code"`)
	code := ts.phones.code(t, "+14155550142")

	steps := []struct {
		name, code string
		status     int
		want       string
	}{
		{"malformed code", "12ab56", http.StatusBadRequest, "The sms_code must be 6 digits."},
		{"wrong code", wrongCode(code), http.StatusUnauthorized, "That code did not work"},
		{"right code", code, http.StatusSeeOther, ""},
	}
	for _, st := range steps {
		a := fc.post("/enroll/vouch", url.Values{"method": {"totp"}, "code": {st.code}})
		if st.status == http.StatusSeeOther {
			wantRedirect(t, st.name, a, "/enroll?done=vouched")
			continue
		}
		wantPage(t, st.name, a, st.status, st.want, `id="vouch-code"`)
	}
	wantPage(t, "wizard after vouching", fc.get("/enroll?done=vouched"), http.StatusOK, "Your phone is confirmed.")
	a := fc.post("/enroll", url.Values{"method": {"totp"}})
	if loc := a.Header.Get("Location"); a.Status != http.StatusSeeOther || !enrollPath.MatchString(loc) {
		t.Fatalf("choose TOTP after vouching = %d to %q, want 303 to /enroll/totp/{id}", a.Status, loc)
	}
}

// TestLostDevice: a user who lost the phone with the authenticator app
// signs in with a backup code, lands on "secure your account" and
// removes the lost factor there; the fresh backup code is the step-up.
func TestLostDevice(t *testing.T) {
	tests := []struct {
		name string
		// wait is the time between the sign-in and the removal.
		wait time.Duration
		// wantRemoved is false when the removal asks for a fresh factor.
		wantRemoved bool
	}{
		{"fresh backup code", time.Minute, true},
		{"backup code older than five minutes", 6 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newAdminServer(t)
			fc := newFormClient(t, ts)
			fc.signIn("carol", adminPassword)
			_, codes := enrollByForm(t, fc)

			fc = newFormClient(t, ts)
			wantRedirect(t, "sign in", fc.signIn("carol", adminPassword), "/login/second-factor")
			fc.get("/login/second-factor")
			wantRedirect(t, "backup code", fc.post("/login/second-factor", url.Values{"method": {"backup_code"}, "code": {codes[0]}}), "/account/secure")
			a := fc.get("/account/secure")
			wantPage(t, "secure your account", a, http.StatusOK, "Secure your account", "You signed in with a backup code. 9 of 10 left.",
				"Authenticator app", "I lost it: remove", `href="/enroll"`)
			m := removeForm.FindSubmatch(a.Body)
			if m == nil {
				t.Fatalf("secure page has no remove form: %s", a.Body)
			}
			ts.Clock.Add(tt.wait)
			a = fc.post("/account/security/factors/"+string(m[1])+"/remove", nil)
			if !tt.wantRemoved {
				wantPage(t, "remove", a, http.StatusOK, "Confirm it is you", `id="stepup-backup"`)
				return
			}
			wantRedirect(t, "remove", a, "/account/security?done=removed")
			fs, err := ts.Auth.Store.Factors(context.Background(), userID(t, ts, "carol"))
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 0 {
				t.Errorf("factors after removing the lost one = %d, want 0", len(fs))
			}
			wantPage(t, "account", fc.get("/account/security?done=removed"), http.StatusOK, "The factor was removed.", "9 of 10 backup codes left.")
		})
	}
}

// totpAdmin is an administrator signed in through the forms with TOTP.
type totpAdmin struct {
	fc     *formClient
	secret string
}

// enrollAdmin creates the admin name, enrolls TOTP through the wizard and
// leaves fc signed in at AAL2.
func enrollAdmin(t *testing.T, ts *smsServer, name string) totpAdmin {
	t.Helper()
	ts.addUser(t, name, "", auth.RoleAdmin)
	fc := newFormClient(t, ts.testServer)
	wantRedirect(t, name+" signs in", fc.signIn(name, adminPassword), "/enroll")
	wantPage(t, "wizard step 1", fc.get("/enroll"), http.StatusOK, `value="totp"`)
	a := fc.post("/enroll", url.Values{"method": {"totp"}})
	loc := a.Header.Get("Location")
	m := secretText.FindSubmatch(fc.get(loc).Body)
	if m == nil {
		t.Fatalf("%s: no TOTP secret on %s", name, loc)
	}
	wantPage(t, name+" confirms", fc.post(loc, url.Values{"code": {totpAt(t, string(m[1]), ts.Clock.Now())}}), http.StatusOK, "Step 3 of 3")
	fc.post("/enroll/done", url.Values{"saved": {"yes"}})
	return totpAdmin{fc: fc, secret: string(m[1])}
}

// TestFactorResetPages: admin A asks for a reset of a user's factors, A
// cannot approve it, admin B approves after a fresh TOTP code and gets
// the one-time link, and the user opens it and lands in the wizard; a
// link works once.
func TestFactorResetPages(t *testing.T) {
	ts := newSMSServer(t, nil)
	mandatoryClerks(ts)
	ts.Auth.Policy.Available = nil
	ann := enrollAdmin(t, ts, "ann")
	ts.Clock.Add(30 * time.Second)
	bob := enrollAdmin(t, ts, "bob")
	ts.addUser(t, "sam", "", auth.RoleClerk)

	requests := []struct {
		name, username, reason string
		status                 int
		want                   string
	}{
		{"short reason", "sam", "lost", http.StatusBadRequest, "The reason say why, in 10 to 500 characters."},
		{"unknown user", "nobody", "lost phone, confirmed by video call", http.StatusBadRequest, "The username is not a user of ordergate."},
		{"own account", "ann", "lost phone, confirmed by video call", http.StatusForbidden, "You cannot reset your own factors"},
		{"ok", "sam", "lost phone, confirmed by video call", http.StatusSeeOther, ""},
	}
	wantPage(t, "resets page", ann.fc.get("/admin/factor-resets"), http.StatusOK, "Ask for a reset", "No requests")
	for _, rq := range requests {
		a := ann.fc.post("/admin/factor-resets", url.Values{"username": {rq.username}, "reason": {rq.reason}})
		if rq.status == http.StatusSeeOther {
			wantRedirect(t, rq.name, a, "/admin/factor-resets?done=requested")
			continue
		}
		wantPage(t, rq.name, a, rq.status, rq.want)
	}
	a := ann.fc.get("/admin/factor-resets?done=requested")
	wantPage(t, "list for ann", a, http.StatusOK, "Reset requested.", "lost phone, confirmed by video call", "waiting for another administrator")
	m := resetRow.FindSubmatch(a.Body)
	if m == nil {
		t.Fatalf("no reset listed: %s", a.Body)
	}
	approve := "/admin/factor-resets/" + string(m[1]) + "/approve"
	wantPage(t, "ann approves her own request", ann.fc.post(approve, nil), http.StatusForbidden, "A different administrator must approve this request.")

	// bob signed in more than five minutes ago: the approval asks again.
	ts.Clock.Add(6 * time.Minute)
	wantPage(t, "list for bob", bob.fc.get("/admin/factor-resets"), http.StatusOK, `action="`+approve+`"`)
	wantPage(t, "bob approves", bob.fc.post(approve, nil), http.StatusOK, "Confirm it is you", `id="stepup-totp"`)
	code := totpAt(t, bob.secret, ts.Clock.Now())
	wantPage(t, "wrong code", bob.fc.post(approve, url.Values{"method": {"totp"}, "code": {wrongCode(code)}}), http.StatusUnauthorized, "That code did not work")
	a = bob.fc.post(approve, url.Values{"method": {"totp"}, "code": {code}})
	wantPage(t, "approved", a, http.StatusOK, "Reset approved", "sam")
	link := linkText.FindSubmatch(a.Body)
	if link == nil {
		t.Fatalf("no recovery link shown: %s", a.Body)
	}
	wantPage(t, "approve again", bob.fc.post(approve, nil), http.StatusForbidden, "This request was already approved.")

	// sam opens the link.
	steps := []struct {
		name, password string
		status         int
		want           string
	}{
		{"wrong password", "not sam's password", http.StatusUnauthorized, "This link is not valid, or the password is wrong."},
		{"right password", adminPassword, http.StatusSeeOther, "/enroll"},
		{"used link", adminPassword, http.StatusUnauthorized, "This link is not valid, or the password is wrong."},
	}
	for _, st := range steps {
		fc := newFormClient(t, ts.testServer)
		wantPage(t, st.name+": link page", fc.get(string(link[1])), http.StatusOK, "Set up your account again")
		a := fc.post(string(link[1]), url.Values{"password": {st.password}})
		if st.status == http.StatusSeeOther {
			wantRedirect(t, st.name, a, st.want)
			wantPage(t, "wizard", fc.get("/enroll"), http.StatusOK, "Set up a second factor")
			continue
		}
		wantPage(t, st.name, a, st.status, st.want)
	}
	fc := newFormClient(t, ts.testServer)
	fc.get(string(link[1]))
	a = fc.post(string(link[1]), url.Values{"password": {adminPassword}, "csrf_token": {"forged"}})
	wantPage(t, "forged form", a, http.StatusForbidden, "Your form expired.")
	if strings.Contains(string(a.Body), "goroutine") {
		t.Errorf("error page shows a stack trace")
	}
}
