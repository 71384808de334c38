package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ordergate/ordergate/internal/testenv"
)

// TestBrowserEnrollment walks a new admin through the second factor in a
// real browser: the first sign-in forces the enrollment wizard, the code
// comes from oathtool reading the secret shown on the page, the backup
// codes are saved; then the admin signs in again once with a backup code
// and once with a fresh TOTP code.
func TestBrowserEnrollment(t *testing.T) {
	oathtool := testenv.Tool(t, "oathtool")
	dir := t.TempDir()
	const password = "admin passphrase for the browser"
	if out, err := runCmd(t, dir, password+"\n", "user", "add", "--username", "carol", "--role", "admin", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v: %s", err, out)
	}
	base := strings.Replace(startServer(t, dir), "127.0.0.1", "localhost", 1)
	browser := testenv.Browser(t, base+"/login")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()

	// totpCode asks oathtool for the code of secret at at.
	totpCode := func(secret string, at time.Time) string {
		t.Helper()
		out, err := exec.Command(oathtool, "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	// submit clicks the submit button of the form at form and checks the
	// status of the page it leads to.
	submit := func(step, form string, wantStatus int) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
		if err != nil {
			t.Fatalf("%s: submit: %v", step, err)
		}
		if got := int(resp.Status); got != wantStatus {
			t.Errorf("%s: status = %d, want %d", step, got, wantStatus)
		}
	}
	signIn := func(step string) {
		t.Helper()
		err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "carol"), chromedp.SendKeys(chromedp.ID("password"), password))
		if err != nil {
			t.Fatalf("%s: fill in the login form: %v", step, err)
		}
		submit(step, `form[action="/login"]`, http.StatusOK)
	}
	signOut := func(step string) {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`))); err != nil {
			t.Fatalf("%s: sign out: %v", step, err)
		}
		checkPage(t, ctx, step, base+"/login", "h1", "Sign in")
	}

	// First sign-in: admins must enroll before anything else.
	signIn("first sign-in")
	checkPage(t, ctx, "first sign-in", base+"/enroll", "h1", "Set up a second factor")
	submit("choose TOTP", `form[action="/enroll"]`, http.StatusOK)
	checkPageText(t, ctx, "QR step", "h1", "Scan the QR code")
	secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("totp-secret").dataset.secret`))
	if err != nil || secret == "" {
		t.Fatalf("read the secret on the page: %q, %v", secret, err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("totp-secret")))
	if err != nil || strings.ReplaceAll(shown, " ", "") != secret {
		t.Errorf("secret shown as %q (%v), want the groups of %q", shown, err, secret)
	}
	qrLoaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("img.qr").naturalWidth > 0`))
	if err != nil || !qrLoaded {
		t.Errorf("QR code image loaded = %v (%v), want true", qrLoaded, err)
	}
	confirmedAt := time.Now()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("code"), totpCode(secret, confirmedAt))); err != nil {
		t.Fatalf("type the code: %v", err)
	}
	submit("confirm", `form[action^="/enroll/totp/"]`, http.StatusOK)
	checkPageText(t, ctx, "backup codes", "h1", "Your backup codes")
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#backup-codes code"), c => c.textContent)`))
	if err != nil || len(codes) != 10 {
		t.Fatalf("backup codes on the page = %q (%v), want 10", codes, err)
	}
	// security.js runs under the strict CSP and shows the Print button.
	printable, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector("[data-print]").hidden`))
	if err != nil || !printable {
		t.Errorf("Print button shown = %v (%v), want true", printable, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("saved"))); err != nil {
		t.Fatalf("tick I saved these codes: %v", err)
	}
	submit("done", `form[action="/enroll/done"]`, http.StatusOK)
	checkPage(t, ctx, "done", base+"/", "h1", "Welcome, carol")
	signOut("sign out after enrolling")

	// Second sign-in with a backup code.
	signIn("second sign-in")
	checkPage(t, ctx, "second sign-in", base+"/login/second-factor", "h1", "Confirm it is you")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("backup-code-input"), codes[0])); err != nil {
		t.Fatalf("type the backup code: %v", err)
	}
	submit("backup code", `#backup-code`, http.StatusOK)
	checkPage(t, ctx, "backup code", base+"/account/secure", "h1", "Secure your account")
	signOut("sign out after the backup code")

	// Third sign-in with a TOTP code. The confirmation used this time step,
	// and a step is accepted once: take the code of the next step when the
	// clock has not reached it yet (the server accepts one step of drift).
	signIn("third sign-in")
	checkPage(t, ctx, "third sign-in", base+"/login/second-factor", "h1", "Confirm it is you")
	at := time.Now()
	if next := confirmedAt.Truncate(30 * time.Second).Add(30 * time.Second); at.Before(next) {
		at = next
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("totp-code"), totpCode(secret, at))); err != nil {
		t.Fatalf("type the TOTP code: %v", err)
	}
	submit("TOTP code", `#totp`, http.StatusOK)
	checkPage(t, ctx, "TOTP code", base+"/", "h1", "Welcome, carol")
	checkPageText(t, ctx, "TOTP code", "span.who", "carol · AAL2")
}

// checkPageText checks the text of the element at selector.
func checkPageText(t *testing.T, ctx context.Context, step, selector, wantText string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("%s: read %s: %v", step, selector, err)
	}
	if got = strings.TrimSpace(got); got != wantText {
		t.Errorf("%s: %s text = %q, want %q", step, selector, got, wantText)
	}
}
