package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/testenv"
)

// TestAdminInviteBrowser: in headless Chromium an administrator invites
// a user; the one-time link, opened in a second, separate browser context,
// lets the person choose a password and lands them in the enrollment
// wizard; the administrator then disables the user, and the user's next
// page load goes to the sign-in page.
func TestAdminInviteBrowser(t *testing.T) {
	ts := consoleServer(t)
	ts.PublicURL = "" // links point at the test server itself
	// The browser keeps cookies by its own clock: bring the test clock to now.
	if behind := time.Since(ts.Clock.Now()); behind > 0 {
		ts.Clock.Add(behind)
	}
	carol := signInWithTOTP(t, ts, "carol", adminPassword)

	// The first Run starts the browser: no deadline on it.
	browser := testenv.Browser(t, ts.URL+"/login")
	// The invited person uses another browser context: no shared cookies.
	person, cancelPerson := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelPerson)
	admin, cancelAdmin := context.WithTimeout(browser, 3*time.Minute)
	defer cancelAdmin()
	user, cancelUser := context.WithTimeout(person, 3*time.Minute)
	defer cancelUser()

	// carol is signed in with password and TOTP: her session's cookie.
	httpOnly := true
	if _, err := chromedp.Run(admin, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "ordergate_session", Value: carol.token,
			URL: ts.URL + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax})
	}); err != nil {
		t.Fatalf("set the session cookie: %v", err)
	}
	location := func(ctx context.Context, step string) *url.URL {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("%s: location: %v", step, err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%s: location %q: %v", step, got, err)
		}
		return u
	}
	submit := func(ctx context.Context, step, sel string, wantStatus int64) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: click %s: %v", step, sel, err)
		}
		if resp.Status != wantStatus {
			t.Errorf("%s: status = %d, want %d", step, resp.Status, wantStatus)
		}
	}

	// The administrator invites ivan.
	if err := chromedp.Do(admin, chromedp.Navigate(ts.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.ID("i-username")),
		chromedp.SendKeys(chromedp.ID("i-username"), "ivan"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/invitations"] input[value="clerk"]`)),
	); err != nil {
		t.Fatalf("fill in the invitation: %v", err)
	}
	submit(admin, "invite", `form[action="/admin/invitations"] button`, 201)
	link, err := chromedp.Run(admin, chromedp.Value(chromedp.ID("one-time-link")))
	if err != nil || !strings.HasPrefix(link, ts.URL+"/invitations/") {
		t.Fatalf("one-time link = %q, %v", link, err)
	}

	// ivan opens the link in his own browser context and sets a password.
	if err := chromedp.Do(user, chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "ivan's long new passphrase"),
		chromedp.SendKeys(chromedp.ID("password_again"), "ivan's long new passphrase"),
	); err != nil {
		t.Fatalf("fill in the password: %v", err)
	}
	submit(user, "accept", `form[action^="/invitations/"] button`, 200)
	if got := location(user, "after accepting").Path; !strings.HasPrefix(got, "/enroll") {
		t.Errorf("after accepting the invitation ivan is at %s, want the enrollment wizard", got)
	}
	// The link worked once: opening it again says so.
	if err := chromedp.Do(user, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the link again: %v", err)
	}
	if got, err := chromedp.Run(user, chromedp.Text(chromedp.CSS("p.error"))); err != nil || !strings.Contains(got, "already used") {
		t.Errorf("used link page says %q (%v), want it already used", got, err)
	}

	// The administrator disables ivan from his user page.
	ivanID := userID(t, ts, "ivan")
	if err := chromedp.Do(admin, chromedp.Navigate(ts.URL+"/admin/users/"+ivanID)); err != nil {
		t.Fatalf("open ivan's page: %v", err)
	}
	submit(admin, "disable", `form[action="/admin/users/`+ivanID+`/disable"] button`, 200)
	if got, err := chromedp.Run(admin, chromedp.Text(chromedp.CSS("h1"))); err != nil || got != "ivan (disabled)" {
		t.Errorf("user page after disabling = %q (%v), want ivan (disabled)", got, err)
	}

	// ivan's session died with it: his next page load asks him to sign in.
	if err := chromedp.Do(user, chromedp.Navigate(ts.URL+"/enroll")); err != nil {
		t.Fatalf("reload the wizard: %v", err)
	}
	if got := location(user, "after disabling").Path; got != "/login" {
		t.Errorf("ivan's next page after being disabled is %s, want /login", got)
	}
}

// TestAdminAuditBrowser: in headless Chromium an administrator at AAL2
// filters the audit log by action, presses "Verify chain" and reads that
// the chain holds with its event count; after one event's body is changed
// in the database, pressing it again names that event's sequence number.
func TestAdminAuditBrowser(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	db := ts.Auth.Store.(*sqlstore.DB).SQL()
	count := func(where string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM audit_events `+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The first Run starts the browser: no deadline on it.
	browser := testenv.Browser(t, ts.URL+"/login")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	setSessionCookie(t, ctx, ts.URL, carol.token)
	submit := func(step, sel string) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: click %s: %v", step, sel, err)
		}
		if resp.Status != 200 {
			t.Fatalf("%s: status = %d, want 200", step, resp.Status)
		}
	}
	verifyResult := func(step string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("verify-result")))
		if err != nil {
			t.Fatalf("%s: read the result: %v", step, err)
		}
		return strings.TrimSpace(got)
	}

	// Filter by action: only user.created events are listed, all of them.
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/admin/audit"),
		chromedp.WaitVisible(chromedp.ID("a-action")),
		chromedp.SendKeys(chromedp.ID("a-action"), "user.created"),
	); err != nil {
		t.Fatalf("fill in the filter: %v", err)
	}
	submit("filter", `form.filters button`)
	actions, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#audit-events tbody tr td:nth-child(3)")].map(td => td.textContent)`))
	if err != nil {
		t.Fatalf("read the filtered events: %v", err)
	}
	if want := count(`WHERE action = ?`, "user.created"); len(actions) != want || want < 3 {
		t.Errorf("filtered rows = %d, want the %d user.created events", len(actions), want)
	}
	for i, a := range actions {
		if a != "user.created" {
			t.Errorf("filtered row %d has action %q, want user.created", i, a)
		}
	}

	// Verify the intact chain: every event so far is counted.
	events := count("")
	submit("verify", `form[action="/admin/audit/verify"] button`)
	if got, want := verifyResult("verify"), fmt.Sprintf("Chain intact: %d events verified.", events); got != want {
		t.Errorf("verify says %q, want %q", got, want)
	}

	// Change what event 2 records, behind the chain's back.
	res, err := db.Exec(`UPDATE audit_events SET body = replace(body, '"outcome":"ok"', '"outcome":"failed"') WHERE seq = 2 AND body LIKE '%"outcome":"ok"%'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tamper with event 2: %d rows, %v; want 1", n, err)
	}
	submit("verify after tampering", `form[action="/admin/audit/verify"] button`)
	if got, want := verifyResult("verify after tampering"), "Chain broken at event 2."; got != want {
		t.Errorf("verify after tampering says %q, want %q", got, want)
	}
}
