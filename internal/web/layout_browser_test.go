package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ordergate/ordergate/internal/testenv"
)

// setSessionCookie gives the browser of ctx the session cookie token for
// the server at base, as signing in would.
func setSessionCookie(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	httpOnly := true
	if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "ordergate_session", Value: token,
			URL: base + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax})
	}); err != nil {
		t.Fatalf("set the session cookie: %v", err)
	}
}

// phoneViewport is a 390 × 844 phone held upright: a mobile viewport that
// honours <meta name="viewport">.
var phoneViewport = chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait)

// Page checks run in the browser. Each answers a list of what is wrong,
// empty when the page passes.
const (
	// checkOverflow: the page is no wider than the screen; wide tables
	// scroll inside their own container. A mobile browser widens
	// window.innerWidth to a wider page (zoomed out), so the screen's
	// width is the layout viewport's, documentElement.clientWidth.
	checkOverflow = `document.documentElement.scrollWidth > document.documentElement.clientWidth
		? ["page is " + document.documentElement.scrollWidth + "px wide, screen " + document.documentElement.clientWidth + "px"] : []`
	// checkLabels: every visible form control has a label or aria-label.
	checkLabels = `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
		.filter(e => e.labels.length == 0 && !e.getAttribute("aria-label"))
		.map(e => "unlabelled " + e.outerHTML.slice(0, 80))`
	// checkControls: what acts is a <button> or an <a href>, in the Tab order.
	checkControls = `[...document.querySelectorAll("button, a, [onclick], [role=button]")]
		.filter(e => !(e.tagName == "BUTTON" || (e.tagName == "A" && e.hasAttribute("href"))) || e.tabIndex < 0)
		.map(e => "not a reachable button or link: " + e.outerHTML.slice(0, 80))`
)

// focusState is the focused element as checkFocus describes it.
type focusState struct {
	Element      string  `json:"element"` // #id, or tag and text
	FocusVisible bool    `json:"focusVisible"`
	OutlineStyle string  `json:"outlineStyle"`
	OutlineWidth float64 `json:"outlineWidth"` // px
}

const checkFocus = `(() => {
	const e = document.activeElement, s = getComputedStyle(e);
	return {element: e.id ? "#" + e.id : e.localName + " " + e.textContent.trim(),
		focusVisible: e.matches(":focus-visible"), outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth)};
})()`

// TestPhoneLayoutBrowser loads the sign-in page, the order pages, account
// security and the administration pages in headless Chromium at phone size
// and checks that none is wider than the screen, that every form control is
// labelled and every control reachable with Tab; on the sign-in page Tab
// goes from the header to the first field and on through the form, with a
// visible focus ring.
func TestPhoneLayoutBrowser(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "bob", time.Minute, "clerk")
	carol := e.totpPerson(t, "carol", "admin", "approver")
	orderID := e.pendingOrder(t, clerk, 600000)

	// The first Run starts the browser: no deadline on it.
	browser := testenv.Browser(t, e.URL+"/login")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, phoneViewport); err != nil {
		t.Fatalf("emulate a phone: %v", err)
	}
	check := func(path string) {
		t.Helper()
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.URL+path))
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		if resp.Status != 200 {
			t.Errorf("%s: status = %d, want 200", path, resp.Status)
		}
		for _, js := range []string{checkOverflow, checkLabels, checkControls} {
			problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
			if err != nil {
				t.Fatalf("%s: check the page: %v", path, err)
			}
			for _, p := range problems {
				t.Errorf("%s: %s", path, p)
			}
		}
	}

	check("/login")
	// From the header's link, Tab walks the sign-in form in order; the
	// focused element shows it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("a.brand").focus(), true`)); err != nil {
		t.Fatalf("focus the header link: %v", err)
	}
	for _, want := range []string{"#username", "#password", "button Sign in"} {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("press Tab: %v", err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[focusState](checkFocus))
		if err != nil {
			t.Fatalf("read the focus: %v", err)
		}
		if got.Element != want {
			t.Errorf("Tab moved the focus to %s, want %s", got.Element, want)
		}
		// app.css draws a 3px ring; Chromium's own is thinner.
		if !got.FocusVisible || got.OutlineStyle == "none" || got.OutlineWidth < 2 {
			t.Errorf("focused %s shows no clear focus ring: %+v", got.Element, got)
		}
	}

	setSessionCookie(t, ctx, e.URL, carol.Token)
	for _, path := range []string{"/orders", "/orders/" + orderID, "/account/security", "/enroll",
		"/admin", "/admin/users", "/admin/users/" + carol.ID, "/admin/audit", "/admin/policy"} {
		check(path)
	}
}
