package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/testenv"
)

// TestOrderApproveBrowser: an approver with TOTP opens an order above the
// step-up threshold in headless Chromium, clicks Approve, sees the amount
// and counterparty in the step-up prompt, enters a code, and sees the
// order approved.
func TestOrderApproveBrowser(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	id := e.pendingOrder(t, clerk, 600000)

	// The first Run starts the browser: no deadline on it.
	browser := testenv.Browser(t, e.URL+"/login")
	// Later steps get a deadline so a broken page cannot hang the test.
	ctx, cancelCtx := context.WithTimeout(browser, 3*time.Minute)
	defer cancelCtx()

	// frank is signed in with password and TOTP: his session's cookie.
	httpOnly := true
	_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "ordergate_session", Value: frank.Token,
			URL: e.URL + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax})
	})
	if err != nil {
		t.Fatalf("set the session cookie: %v", err)
	}

	text := func(step, sel string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: read %s: %v", step, sel, err)
		}
		return strings.TrimSpace(got)
	}
	click := func(step, sel string, wantStatus int64) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: click %s: %v", step, sel, err)
		}
		if resp.Status != wantStatus {
			t.Errorf("%s: status = %d, want %d", step, resp.Status, wantStatus)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/orders?status=pending_approval")); err != nil {
		t.Fatalf("open the orders: %v", err)
	}
	click("open the order", `#orders a[href="/orders/`+id+`"]`, 200)
	if got := text("order page", "#order-amount"); got != "12000.00 USD" {
		t.Errorf("order amount = %q, want 12000.00 USD", got)
	}

	click("approve", "#approve", 401)
	for sel, want := range map[string]string{"#stepup-amount": "12000.00 USD", "#stepup-counterparty": "Ada"} {
		if got := text("step-up prompt", sel); got != want {
			t.Errorf("step-up prompt %s = %q, want %q", sel, got, want)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("stepup-code")),
		chromedp.SendKeys(chromedp.ID("stepup-code"), e.code(frank))); err != nil {
		t.Fatalf("enter the code: %v", err)
	}
	click("confirm", "#stepup-totp button[type=submit]", 200)

	if got, err := chromedp.Run(ctx, chromedp.Location()); err != nil || got != e.URL+"/orders/"+id+"?done=approved" {
		t.Errorf("location after approving = %q (%v)", got, err)
	}
	if got := text("approved", "#order-status"); got != "approved" {
		t.Errorf("order status on the page = %q, want approved", got)
	}
	if got := text("approved", "#order-approvals .evidence"); !strings.Contains(got, "step_up_id: sug_") {
		t.Errorf("approval evidence on the page = %q, want the step-up grant", got)
	}
	if o, err := e.DB.OrderByID(context.Background(), id); err != nil || o.Status != order.StatusApproved {
		t.Errorf("stored order = %v, %v; want approved", o, err)
	}
}
