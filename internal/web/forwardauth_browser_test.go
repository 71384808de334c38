package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/testenv"
	"github.com/ordergate/ordergate/internal/web"
)

// nginxLoginConf puts the legacy application under /legacy/ behind
// ordergate's forward auth and serves ordergate itself on the same host
// (so its session cookie reaches /auth/verify). A refused request is
// answered by the named location @login: a redirect to ordergate's login
// page carrying the original URL.
const nginxLoginConf = nginxHead + `		location /legacy/ {
			auth_request /_ordergate_verify;
			auth_request_set $og_user $upstream_http_x_ordergate_user;
			error_page 401 = @login;
			proxy_set_header X-Ordergate-User $og_user;
			proxy_pass %[4]s;
		}
		location @login {
			return 302 /login?rd=$scheme://$http_host$request_uri;
		}
		location / {
			proxy_pass %[3]s;
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-For $remote_addr;
		}
	}
}
`

// TestForwardAuthBrowserNginx walks a real browser through nginx: an
// anonymous visit to the legacy application lands on ordergate's login
// page, the password leads to the second factor, and the TOTP code leads
// back to the legacy page, which sees the user.
func TestForwardAuthBrowserNginx(t *testing.T) {
	testenv.Tool(t, "nginx")
	ts := newTestServer(t, func(s *web.Server) {
		s.Auth.Policy.Available = []string{auth.MethodTOTP, auth.MethodBackupCode}
		s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		s.ForwardAuth = &web.ForwardAuth{AllowedRedirectDomains: []string{"legacy.example.com"}, LoginURL: "/login",
			Rules: []web.ForwardRule{{Host: "legacy.example.com", Path: "/legacy/*", Require: web.RequireTwoFactor}}}
	})
	if _, err := ts.Auth.CreateUser(context.Background(), auth.UserActor(&auth.User{}, nil),
		auth.NewUser{Username: "carol", Password: adminPassword, Roles: []string{auth.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	// The browser drops cookies that expire in its (real) past, so the
	// server's clock must not lag behind it; a later step also leaves the
	// enrollment code's step behind.
	ts.Clock.Add(max(time.Minute, time.Since(ts.Clock.Now())+time.Minute))

	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<!doctype html><title>legacy</title><p id=who>legacy app: user=%q path=%s</p>", r.Header.Get("X-Ordergate-User"), r.URL.Path)
	}))
	t.Cleanup(legacy.Close)
	front, err := url.Parse(runNginx(t, nginxLoginConf, ts.URL, legacy.URL))
	if err != nil {
		t.Fatal(err)
	}
	start := "http://legacy.example.com:" + front.Port() + "/legacy/report"

	browser := testenv.Browser(t, start, chromedp.Flag("host-resolver-rules", "MAP legacy.example.com 127.0.0.1"))
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("login page: %v", err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/login?rd="+start) {
		t.Errorf("anonymous visit landed on %s (%v), want …/login?rd=%s", loc, err, start)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), "carol"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	); err != nil {
		t.Fatalf("password step: %v", err)
	}
	// Each click waits for the next page to load: Chromium hands out new
	// DOM node ids at DOMContentLoaded, which comes after the page is
	// visible when its deferred scripts are slow, and an id found before
	// it no longer exists.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`))); err != nil {
		t.Fatalf("password step: %v", err)
	}
	code := oathtool(t, carol.secret, ts.Clock.Now())
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("totp-code"), code)); err != nil {
		t.Fatalf("second factor step: %v", err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form#totp button[type=submit]`))); err != nil {
		t.Fatalf("second factor step: %v", err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("who")))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if want := `legacy app: user="carol" path=/legacy/report`; loc != start || who != want {
		t.Errorf("after sign-in: %s shows %q, want %s showing %q", loc, who, start, want)
	}
}
