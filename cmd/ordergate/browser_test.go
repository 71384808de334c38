package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ordergate/ordergate/internal/testenv"
)

// TestBrowserLogin signs in and out through the login page in a real
// browser: a wrong password shows the error, the right one lands on the
// home page, and signing out leads back to the login page.
func TestBrowserLogin(t *testing.T) {
	dir := t.TempDir()
	const password = "correct horse battery staple"
	if out, err := runCmd(t, dir, password+"\n", "user", "add", "--username", "alice", "--role", "clerk", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v: %s", err, out)
	}
	// Chromium treats http://localhost as a secure context; the server
	// listens on 127.0.0.1, which localhost reaches.
	base := strings.Replace(startServer(t, dir), "127.0.0.1", "localhost", 1)
	// The first Run starts the browser: its context must not time out, or
	// the browser stops with it.
	browser := testenv.Browser(t, base+"/login")
	// Every later step gets a deadline so a broken page cannot hang the test.
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()

	steps := []struct {
		name       string
		password   string
		wantStatus int
		wantPath   string
		selector   string
		wantText   string
	}{
		{"wrong password", "not my password", http.StatusUnauthorized, "/login", "p.error[role=alert]", "Wrong username or password."},
		{"right password", password, http.StatusOK, "/", "h1", "Welcome, alice"},
	}
	for _, st := range steps {
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "alice"),
			chromedp.SendKeys(chromedp.ID("password"), st.password),
		)
		if err != nil {
			t.Fatalf("%s: fill in the form: %v", st.name, err)
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`)))
		if err != nil {
			t.Fatalf("%s: submit: %v", st.name, err)
		}
		if got, want := int(resp.Status), st.wantStatus; got != want {
			t.Errorf("%s: status = %d, want %d", st.name, got, want)
		}
		checkPage(t, ctx, st.name, base+st.wantPath, st.selector, st.wantText)
	}

	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	checkPage(t, ctx, "sign out", base+"/login", "h1", "Sign in")

	// The session is gone, not just the page: the home page sends us back.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open /: %v", err)
	}
	checkPage(t, ctx, "home after sign out", base+"/login", "h1", "Sign in")
}

// checkPage checks the tab's URL and the text of the element at selector.
func checkPage(t *testing.T, ctx context.Context, step, wantURL, selector, wantText string) {
	t.Helper()
	if got, err := chromedp.Run(ctx, chromedp.Location()); err != nil || got != wantURL {
		t.Errorf("%s: location = %q (%v), want %q", step, got, err, wantURL)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("%s: read %s: %v", step, selector, err)
	}
	if got = strings.TrimSpace(got); got != wantText {
		t.Errorf("%s: %s text = %q, want %q", step, selector, got, wantText)
	}
}
