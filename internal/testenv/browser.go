package testenv

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdpwa "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Browser starts headless Chromium for tb (skipping or failing tb through
// Tool when it is missing), opens startURL in its first tab and returns
// that tab's context. opts add allocator options to the defaults, such as
// a host-resolver-rules flag.
//
// The returned context has no deadline: the first Run starts the browser,
// and the browser stops when that Run's context ends. Give later steps
// their own context.WithTimeout. The browser stops when tb ends; start it
// after the server, so that it closes its connections before the server
// shuts down (net/http waits up to 5 s for Chromium's unused preconnected
// sockets).
func Browser(tb testing.TB, startURL string, opts ...chromedp.ExecAllocatorOption) context.Context {
	tb.Helper()
	chromium := Tool(tb, "chromium")
	all := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(all, opts...)...)
	tb.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(startURL)); err != nil {
		tb.Fatalf("open %s: %v", startURL, err)
	}
	return ctx
}

// VirtualAuthenticator enables WebAuthn on the tab of ctx and adds a
// virtual authenticator with opts, failing tb when it cannot. The
// authenticator belongs to the tab. opts.AutomaticPresenceSimulation must
// be set explicitly: Go's false would be sent and create() would hang.
func VirtualAuthenticator(tb testing.TB, ctx context.Context, opts cdpwa.VirtualAuthenticatorOptions) cdpwa.AuthenticatorID {
	tb.Helper()
	id, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdpwa.AuthenticatorID, error) {
		if _, err := cdp.Call(ctx, tg, cdpwa.Enable, cdpwa.EnableParams{}); err != nil {
			return "", err
		}
		r, err := cdp.Call(ctx, tg, cdpwa.AddVirtualAuthenticator, cdpwa.AddVirtualAuthenticatorParams{Options: &opts})
		return r.AuthenticatorID, err
	})
	if err != nil {
		tb.Fatalf("virtual authenticator: %v", err)
	}
	return id
}
