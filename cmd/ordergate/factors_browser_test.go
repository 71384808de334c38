package main

import (
	"bufio"
	"context"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpwa "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/testenv"
)

// factorBrowser is a headless Chromium tab on a served ordergate whose
// public URL is http://localhost:PORT (the default on a loopback address,
// so WebAuthn is on with RP ID localhost).
type factorBrowser struct {
	t    *testing.T
	ctx  context.Context
	base string
	// api is the server's 127.0.0.1 address for Go-side API calls.
	api string
	dir string
}

// startFactorBrowser adds the users (name → role) with password, starts
// the server with args and opens the login page in a new browser.
func startFactorBrowser(t *testing.T, password string, users map[string]string, args ...string) *factorBrowser {
	t.Helper()
	dir := t.TempDir()
	for name, role := range users {
		if out, err := runCmd(t, dir, password+"\n", "user", "add", "--username", name, "--role", role, "--password-stdin"); err != nil {
			t.Fatalf("user add %s: %v: %s", name, err, out)
		}
	}
	api := startServer(t, dir, args...)
	base := strings.Replace(api, "127.0.0.1", "localhost", 1)
	browser := testenv.Browser(t, base+"/login")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(cancel)
	return &factorBrowser{t: t, ctx: ctx, base: base, api: api, dir: dir}
}

// submit clicks the submit button of the form at form and checks the
// status of the page it leads to.
func (b *factorBrowser) submit(step, form string, wantStatus int) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
	if err != nil {
		b.t.Fatalf("%s: submit %s: %v", step, form, err)
	}
	if got := int(resp.Status); got != wantStatus {
		b.t.Errorf("%s: status = %d, want %d", step, got, wantStatus)
	}
}

// fill types text into the input with id.
func (b *factorBrowser) fill(step, id, text string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), text)); err != nil {
		b.t.Fatalf("%s: type into #%s: %v", step, id, err)
	}
}

// signIn fills in the login form as name and checks where it leads.
func (b *factorBrowser) signIn(name, password, wantPath, wantH1 string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/login")); err != nil {
		b.t.Fatalf("open the login page: %v", err)
	}
	b.fill("sign in "+name, "username", name)
	b.fill("sign in "+name, "password", password)
	b.submit("sign in "+name, `form[action="/login"]`, http.StatusOK)
	checkPage(b.t, b.ctx, "sign in "+name, b.base+wantPath, "h1", wantH1)
}

// signOut uses the sign-out button and checks it leads to the login page.
func (b *factorBrowser) signOut(step string) {
	b.t.Helper()
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`))); err != nil {
		b.t.Fatalf("%s: sign out: %v", step, err)
	}
	checkPage(b.t, b.ctx, step, b.base+"/login", "h1", "Sign in")
}

// saveBackupCodes ticks "I saved these codes" on the codes page and
// finishes the wizard on the home page.
func (b *factorBrowser) saveBackupCodes(step, name string) []string {
	b.t.Helper()
	checkPageText(b.t, b.ctx, step, "h1", "Your backup codes")
	codes, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#backup-codes code"), c => c.textContent)`))
	if err != nil || len(codes) != 10 {
		b.t.Fatalf("%s: backup codes on the page = %q (%v), want 10", step, codes, err)
	}
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.ID("saved"))); err != nil {
		b.t.Fatalf("%s: tick I saved these codes: %v", step, err)
	}
	b.submit(step, `form[action="/enroll/done"]`, http.StatusOK)
	checkPage(b.t, b.ctx, step, b.base+"/", "h1", "Welcome, "+name)
	return codes
}

// clickAndWait clicks the button at button (which runs script and then
// navigates) and waits for the next page to load and show selector. It
// waits for the load, not only for selector: Chromium renumbers the DOM's
// nodes at DOMContentLoaded, which can come after the page is visible.
func (b *factorBrowser) clickAndWait(step, button, selector string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(button))); err != nil {
		b.t.Fatalf("%s: wait for %s: %v", step, button, err)
	}
	_, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(button)))
	if err == nil {
		err = chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(selector)))
	}
	if err != nil {
		msg, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.getElementById("webauthn-error") || {}).textContent || ""`))
		b.t.Fatalf("%s: click %s, wait for %s: %v (page says %q)", step, button, selector, err, msg)
	}
}

// addAuthenticator enables WebAuthn on the tab and adds a CTAP2 virtual
// authenticator with a resident key and user verification. Presence
// simulation must be set: Go's false would be sent and create() hang.
func (b *factorBrowser) addAuthenticator() {
	b.t.Helper()
	testenv.VirtualAuthenticator(b.t, b.ctx, cdpwa.VirtualAuthenticatorOptions{
		Protocol: cdpwa.AuthenticatorProtocolCtap2, Ctap2version: cdpwa.Ctap2versionCtap21, Transport: cdpwa.AuthenticatorTransportUsb,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true})
}

// TestBrowserSecurityKey registers a security key from the enrollment
// wizard with a CDP virtual authenticator, signs out, and signs in again
// with the key on the second-factor page.
func TestBrowserSecurityKey(t *testing.T) {
	const password = "admin passphrase for the key test"
	b := startFactorBrowser(t, password, map[string]string{"carol": "admin"})
	b.addAuthenticator()

	b.signIn("carol", password, "/enroll", "Set up a second factor")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`input[name=method][value=webauthn]`))); err != nil {
		t.Fatalf("choose the security key: %v", err)
	}
	b.submit("choose the key", `form[action="/enroll"]`, http.StatusOK)
	checkPage(t, b.ctx, "key step", b.base+"/enroll/key", "h1", "Add a security key")
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.ID("key-name"), "Blue key")); err != nil {
		t.Fatal(err)
	}
	b.clickAndWait("register", "#register-key", `form[action="/enroll/backup-codes"]`)
	checkPage(t, b.ctx, "registered", b.base+"/enroll/key/done", "h1", "Your security key is ready")
	b.submit("make backup codes", `form[action="/enroll/backup-codes"]`, http.StatusOK)
	b.saveBackupCodes("backup codes", "carol")
	checkPageText(t, b.ctx, "after registering", "span.who", "carol · AAL2")
	b.signOut("sign out after registering")

	b.signIn("carol", password, "/login/second-factor", "Confirm it is you")
	b.clickAndWait("use the key", "#use-key", "span.who")
	checkPage(t, b.ctx, "signed in with the key", b.base+"/", "h1", "Welcome, carol")
	checkPageText(t, b.ctx, "signed in with the key", "span.who", "carol · AAL2")
	amr, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main section.card p:nth-of-type(2)")))
	if err != nil || !strings.Contains(amr, "hwk") {
		t.Errorf("home page methods = %q (%v), want hwk among them", amr, err)
	}
}

var outboxCode = regexp.MustCompile(`code is (\d{6})\.`)

// lastTexted returns the code in the newest message of the SMS outbox
// (sms-outbox.jsonl beside the database) to phone.
func (b *factorBrowser) lastTexted(phone string) string {
	b.t.Helper()
	f, err := os.Open(filepath.Join(b.dir, "sms-outbox.jsonl"))
	if err != nil {
		b.t.Fatalf("SMS outbox: %v", err)
	}
	defer f.Close()
	code := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct{ To, Body string }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			b.t.Fatalf("SMS outbox line %q: %v", sc.Text(), err)
		}
		if c := outboxCode.FindStringSubmatch(m.Body); m.To == phone && c != nil {
			code = c[1]
		}
	}
	if code == "" {
		b.t.Fatalf("no code texted to %s", phone)
	}
	return code
}

// TestBrowserSMS enrolls text-message codes from the wizard (seeing that
// they are the weakest factor), then signs in with "text me a code",
// reading each code from the provider's outbox.
func TestBrowserSMS(t *testing.T) {
	const password = "clerk passphrase for the sms test"
	cfg := filepath.Join(t.TempDir(), "ordergate.yaml")
	if err := os.WriteFile(cfg, []byte("mfa:\n  mandatory_roles: [admin, approver, clerk]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startFactorBrowser(t, password, map[string]string{"sam": "clerk"}, "--config", cfg)
	const phone = "+14155550100"

	b.signIn("sam", password, "/enroll", "Set up a second factor")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`input[name=method][value=sms]`))); err != nil {
		t.Fatalf("choose SMS: %v", err)
	}
	b.submit("choose SMS", `form[action="/enroll"]`, http.StatusOK)
	checkPage(t, b.ctx, "phone step", b.base+"/enroll/sms", "h1", "Text-message codes")
	notice, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("sms-notice")))
	if err != nil || !strings.Contains(notice, "weakest") {
		t.Errorf("SMS notice = %q (%v), want it to say SMS is the weakest", notice, err)
	}
	b.fill("phone", "phone", "+1 415 555 0100")
	b.submit("phone", `form[action="/enroll/sms"]`, http.StatusOK)
	checkPageText(t, b.ctx, "code step", "h1", "Type the texted code")
	b.fill("enroll code", "sms-code", b.lastTexted(phone))
	b.submit("enroll code", `form[action^="/enroll/sms/"]`, http.StatusOK)
	b.saveBackupCodes("backup codes", "sam")
	b.signOut("sign out after enrolling")

	b.signIn("sam", password, "/login/second-factor", "Confirm it is you")
	b.submit("text me a code", "#sms-send", http.StatusOK)
	b.fill("sign-in code", "sms-code", b.lastTexted(phone))
	b.submit("sign-in code", "#sms-code-form", http.StatusOK)
	checkPage(t, b.ctx, "signed in by SMS", b.base+"/", "h1", "Welcome, sam")
	checkPageText(t, b.ctx, "signed in by SMS", "span.who", "sam · AAL2")
}

// apiTOTP enrolls an authenticator app for name through the API and
// returns its seed and backup codes.
func (b *factorBrowser) apiTOTP(name, password string) ([]byte, []string) {
	b.t.Helper()
	_, login, _ := postJSON(b.t, b.api+"/api/v1/login", "", map[string]string{"username": name, "password": password})
	tok, _ := login["session_token"].(string)
	status, begin, _ := postJSON(b.t, b.api+"/api/v1/me/factors/totp", tok, nil)
	if status != http.StatusCreated {
		b.t.Fatalf("%s: begin TOTP = %d %v", name, status, begin)
	}
	secret, _ := begin["secret"].(string)
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		b.t.Fatal(err)
	}
	status, conf, _ := postJSON(b.t, b.api+"/api/v1/me/factors/totp/"+begin["id"].(string)+"/confirm", tok,
		map[string]string{"code": totp.Code(seed, time.Now(), totp.DefaultParams)})
	if status != http.StatusOK {
		b.t.Fatalf("%s: confirm TOTP = %d %v", name, status, conf)
	}
	if t, ok := conf["session_token"].(string); ok {
		tok = t
	}
	status, bc, _ := postJSON(b.t, b.api+"/api/v1/me/backup-codes", tok, nil)
	if status != http.StatusCreated {
		b.t.Fatalf("%s: backup codes = %d %v", name, status, bc)
	}
	var codes []string
	for _, c := range bc["codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return seed, codes
}

// nextCode is the TOTP code of the next time step: the step of the
// enrollment was used, and the server accepts one step of drift.
func nextCode(seed []byte) string {
	return totp.Code(seed, time.Now().Add(30*time.Second), totp.DefaultParams)
}

// TestBrowserFactorReset: admin ann asks for a reset of sam's factors,
// admin bob (signed in with a backup code) approves after the step-up
// prompt with a fresh TOTP code, and sam opens the one-time link and
// enrolls again.
func TestBrowserFactorReset(t *testing.T) {
	const password = "passphrase for the reset test"
	b := startFactorBrowser(t, password, map[string]string{"ann": "admin", "bob": "admin", "sam": "clerk"})
	annSeed, _ := b.apiTOTP("ann", password)
	bobSeed, bobCodes := b.apiTOTP("bob", password)
	b.apiTOTP("sam", password)

	b.signIn("ann", password, "/login/second-factor", "Confirm it is you")
	b.fill("ann's code", "totp-code", nextCode(annSeed))
	b.submit("ann's code", "#totp", http.StatusOK)
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/admin/factor-resets")); err != nil {
		t.Fatal(err)
	}
	checkPageText(t, b.ctx, "resets page", "h1", "Factor resets")
	b.fill("request", "reset-username", "sam")
	b.fill("request", "reset-reason", "lost phone; identity checked on a video call")
	b.submit("request", "#reset-request", http.StatusOK)
	checkPageText(t, b.ctx, "requested", "#resets tbody td:nth-child(4)", "pending")
	b.signOut("ann signs out")

	b.signIn("bob", password, "/login/second-factor", "Confirm it is you")
	b.fill("bob's backup code", "backup-code-input", bobCodes[0])
	b.submit("bob's backup code", "#backup-code", http.StatusOK)
	checkPageText(t, b.ctx, "bob secures", "h1", "Secure your account")
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/admin/factor-resets")); err != nil {
		t.Fatal(err)
	}
	b.submit("approve", `#resets form[action$="/approve"]`, http.StatusOK)
	checkPageText(t, b.ctx, "step-up prompt", "h1", "Confirm it is you")
	b.fill("fresh code", "stepup-code", nextCode(bobSeed))
	b.submit("fresh code", "#stepup-totp", http.StatusOK)
	checkPageText(t, b.ctx, "approved", "h1", "Reset approved")
	link, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("recovery-link")))
	if err != nil || !strings.HasPrefix(link, b.base+"/recovery/") {
		t.Fatalf("recovery link = %q (%v), want %s/recovery/…", link, err, b.base)
	}
	b.signOut("bob signs out")

	if err := chromedp.Do(b.ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	checkPageText(t, b.ctx, "recovery link", "h1", "Set up your account again")
	b.fill("recovery", "recovery-password", password)
	b.submit("recovery", "#recovery", http.StatusOK)
	checkPage(t, b.ctx, "wizard", b.base+"/enroll", "h1", "Set up a second factor")
	b.submit("choose TOTP", `form[action="/enroll"]`, http.StatusOK)
	secret, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("totp-secret").dataset.secret`))
	if err != nil || secret == "" {
		t.Fatalf("read the secret: %q, %v", secret, err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	b.fill("new code", "code", totp.Code(seed, time.Now(), totp.DefaultParams))
	b.submit("new code", `form[action^="/enroll/totp/"]`, http.StatusOK)
	b.saveBackupCodes("sam's new backup codes", "sam")
	checkPageText(t, b.ctx, "sam enrolled again", "span.who", "sam · AAL2")
}
