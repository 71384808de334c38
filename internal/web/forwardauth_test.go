package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/web"
)

// forwardRules protect legacy.example.com as API.md's example does.
var forwardRules = &web.ForwardAuth{
	AllowedRedirectDomains: []string{"legacy.example.com"},
	LoginURL:               "https://auth.example.com/login",
	Rules: []web.ForwardRule{
		{Host: "legacy.example.com", Path: "/public/*", Require: web.RequireBypass},
		{Host: "legacy.example.com", Path: "/admin/*", Require: web.RequireTwoFactor, Roles: []string{auth.RoleAdmin}},
		{Host: "legacy.example.com", Path: "/keys/*", Require: web.RequirePhishingResistant},
		{Host: "legacy.example.com", Path: "/closed*", Require: web.RequireDeny},
		{Host: "*.legacy.example.com", Require: web.RequireTwoFactor},
		{Host: "legacy.example.com", Require: web.RequireOneFactor},
	},
}

// MustSession creates a user with roles and an active session at aal
// (amr lists its methods), and returns the session token.
func MustSession(tb testing.TB, db *sqlstore.DB, now time.Time, name string, aal ordergate.AAL, amr []string, roles ...string) string {
	tb.Helper()
	ctx := context.Background()
	u := &auth.User{Username: name, PasswordHash: "$argon2id$unused", Roles: roles}
	if err := db.CreateUser(ctx, u); err != nil {
		tb.Fatal(err)
	}
	token := auth.NewToken()
	times := map[string]time.Time{}
	for _, m := range amr {
		times[m] = now
	}
	s := &auth.Session{ID: auth.HashToken(token), UserID: u.ID, State: auth.StateActive, CSRFToken: "csrf",
		Auth:      ordergate.AuthContext{AAL: aal, AMR: amr, AuthTime: now, FactorTimes: times, ClientIP: "127.0.0.1"},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}
	s.Auth.SessionID = s.PublicID()
	if err := db.CreateSession(ctx, s); err != nil {
		tb.Fatal(err)
	}
	return token
}

// forwardEnv is a server with forward-auth rules and a few sessions.
type forwardEnv struct {
	*testServer
	DB                                 *sqlstore.DB
	clerk1, admin1, admin2, clerk2, hw string
}

func newForwardEnv(t testing.TB) *forwardEnv {
	clock := newFakeClock()
	db := MustOpenDB(t, clock)
	svc := auth.NewService(db, MustOpenKeyring(t), clock, slogDiscard())
	srv := web.NewServer(svc, db, web.NewMetrics(), slogDiscard())
	srv.ForwardAuth = forwardRules
	srv.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	svc.Policy.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	now := clock.Now()
	e := &forwardEnv{testServer: &testServer{Server: srv, URL: hs.URL, Clock: clock}, DB: db}
	e.clerk1 = MustSession(t, db, now, "carol", ordergate.AAL1, []string{"pwd"}, auth.RoleClerk)
	e.admin1 = MustSession(t, db, now, "adam", ordergate.AAL1, []string{"pwd"}, auth.RoleAdmin)
	e.admin2 = MustSession(t, db, now, "alba", ordergate.AAL2, []string{"pwd", "otp"}, auth.RoleAdmin)
	e.clerk2 = MustSession(t, db, now, "cleo", ordergate.AAL2, []string{"pwd", "otp"}, auth.RoleClerk)
	e.hw = MustSession(t, db, now, "hana", ordergate.AAL2, []string{"pwd", "hwk"}, auth.RoleClerk)
	return e
}

func TestForwardAuthVerify(t *testing.T) {
	e := newForwardEnv(t)
	const trusted, remote = "X-Forwarded-For: 10.1.2.3", "X-Forwarded-For: 198.51.100.7"
	tests := []struct {
		name     string
		token    string
		headers  []string
		want     int
		wantUser string
		redirect bool
	}{
		{"no session", "", []string{"X-Forwarded-Host: legacy.example.com", "X-Forwarded-Uri: /report"}, 401, "", true},
		{"one factor, trusted", "clerk1", []string{"X-Forwarded-Host: legacy.example.com", "X-Forwarded-Uri: /report", trusted}, 200, "carol", false},
		{"one factor, remote", "clerk1", []string{"X-Forwarded-Host: legacy.example.com", "X-Forwarded-Uri: /report", remote}, 401, "", true},
		{"two factors, remote", "clerk2", []string{"X-Forwarded-Host: legacy.example.com", "X-Forwarded-Uri: /report", remote}, 200, "cleo", false},
		{"admin path, one factor admin", "admin1", []string{"X-Original-URL: https://legacy.example.com/admin/users", trusted}, 401, "", true},
		{"admin path, AAL2 admin", "admin2", []string{"X-Original-URL: https://legacy.example.com/admin/users", trusted}, 200, "alba", false},
		{"admin path, AAL2 clerk lacks the role", "clerk2", []string{"X-Original-URL: https://legacy.example.com/admin/users"}, 401, "", false},
		{"phishing-resistant path, otp", "clerk2", []string{"X-Original-URL: https://legacy.example.com/keys/x"}, 401, "", true},
		{"phishing-resistant path, security key", "hw", []string{"X-Original-URL: https://legacy.example.com/keys/x"}, 200, "hana", false},
		{"bypass", "", []string{"X-Original-URL: https://legacy.example.com/public/logo.png"}, 200, "", false},
		{"deny rule", "admin2", []string{"X-Original-URL: https://legacy.example.com/closed/x"}, 401, "", false},
		{"subdomain wildcard", "clerk1", []string{"X-Original-URL: https://app.legacy.example.com/", trusted}, 401, "", true},
		{"subdomain wildcard, AAL2", "clerk2", []string{"X-Original-URL: https://app.legacy.example.com/"}, 200, "cleo", false},
		{"unknown host", "admin2", []string{"X-Forwarded-Host: evil.example.net", "X-Forwarded-Uri: /"}, 401, "", false},
		{"no original URL", "admin2", nil, 401, "", false},
		{"malformed original URL", "admin2", []string{"X-Original-URL: ::not a url"}, 401, "", false},
		{"malformed X-Forwarded-For: unknown client, remote", "clerk1", []string{"X-Forwarded-Host: legacy.example.com", "X-Forwarded-For: not-an-ip"}, 401, "", true},
		{"no X-Forwarded-For from the proxy: remote", "clerk1", []string{"X-Forwarded-Host: legacy.example.com", "X-Forwarded-Uri: /report"}, 401, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := slices.Clone(tt.headers)
			switch tt.token {
			case "clerk1":
				h = append(h, "Cookie: ordergate_session="+e.clerk1)
			case "clerk2":
				h = append(h, "Cookie: ordergate_session="+e.clerk2)
			case "admin1":
				h = append(h, "Cookie: ordergate_session="+e.admin1)
			case "admin2":
				h = append(h, "Cookie: ordergate_session="+e.admin2)
			case "hw":
				h = append(h, "Cookie: ordergate_session="+e.hw)
			}
			a := e.do(t, "GET", "/auth/verify", "", "", h...)
			if a.Status != tt.want {
				t.Fatalf("GET /auth/verify = %d, want %d", a.Status, tt.want)
			}
			if got := a.Header.Get("X-Ordergate-User"); got != tt.wantUser {
				t.Errorf("X-Ordergate-User = %q, want %q", got, tt.wantUser)
			}
			if tt.want == 200 && tt.wantUser != "" && (a.Header.Get("X-Ordergate-AAL") == "" || a.Header.Get("X-Ordergate-Roles") == "") {
				t.Errorf("200 without X-Ordergate-AAL / -Roles: %v", a.Header)
			}
			rd := a.Header.Get("X-Ordergate-Redirect")
			if (rd != "") != tt.redirect {
				t.Errorf("X-Ordergate-Redirect = %q, want one: %v", rd, tt.redirect)
			}
			if rd != "" && (!strings.HasPrefix(rd, "https://auth.example.com/login?rd=http") || !strings.Contains(rd, "legacy.example.com%2F")) {
				t.Errorf("X-Ordergate-Redirect = %q, want the login page with rd on legacy.example.com", rd)
			}
		})
	}
}

func TestForwardAuthBrowserRedirect(t *testing.T) {
	e := newForwardEnv(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name     string
		original string
		want     int
	}{
		{"allowed domain", "https://legacy.example.com/report?x=1", http.StatusFound},
		{"unlisted domain gets no redirect", "https://evil.example.net/", http.StatusUnauthorized},
		{"look-alike domain", "https://legacy.example.com.evil.net/", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", e.URL+"/auth/verify?redirect=true", nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("X-Original-URL", tt.original)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: verify = %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if loc := resp.Header.Get("Location"); tt.want == http.StatusFound && !strings.HasPrefix(loc, "https://auth.example.com/login?rd=") {
			t.Errorf("%s: Location = %q", tt.name, loc)
		}
	}

	// /login?rd= remembers an allowed URL and the signed-in home page
	// sends the browser back there; an unlisted one is ignored.
	for _, tt := range []struct {
		rd   string
		want string
	}{
		{"https://legacy.example.com/report", "https://legacy.example.com/report"},
		{"https://evil.example.net/", ""},
	} {
		a := e.do(t, "GET", "/login?rd="+urlQueryEscape(tt.rd), "", "")
		c := a.Cookie("ordergate_return")
		if (c != nil) != (tt.want != "") {
			t.Fatalf("GET /login?rd=%s set return cookie %v, want one: %v", tt.rd, c, tt.want != "")
		}
		if c == nil {
			continue
		}
		req, _ := http.NewRequest("GET", e.URL+"/", nil)
		req.Header.Set("X-Forwarded-For", "10.1.2.3") // from inside, where one factor is enough
		req.AddCookie(c)
		req.AddCookie(&http.Cookie{Name: "ordergate_session", Value: e.clerk1})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.want {
			t.Errorf("GET / after sign-in = %d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), tt.want)
		}
	}
}

func TestClientIPForwarded(t *testing.T) {
	srv := &web.Server{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := []struct {
		name      string
		remote    string
		forwarded []string
		xff       string
		want      string
	}{
		{"trusted proxy", "10.0.0.2:1", []string{"for=198.51.100.1"}, "", "198.51.100.1"},
		{"untrusted peer ignored", "203.0.113.7:1", []string{"for=198.51.100.1"}, "", "203.0.113.7"},
		{"quoted IPv4 with port", "10.0.0.2:1", []string{`for="198.51.100.17:8080";proto=https`}, "", "198.51.100.17"},
		{"IPv6 with port", "10.0.0.2:1", []string{`for="[2001:db8:cafe::17]:4711"`}, "", "2001:db8:cafe::17"},
		{"right-most untrusted", "10.0.0.2:1", []string{"for=192.0.2.60, for=198.51.100.1;by=10.0.0.9", "for=10.0.0.5"}, "", "198.51.100.1"},
		{"parameters in any order and case", "10.0.0.2:1", []string{"proto=http;By=10.0.0.2;For=198.51.100.9"}, "", "198.51.100.9"},
		{"Forwarded wins over X-Forwarded-For", "10.0.0.2:1", []string{"for=198.51.100.1"}, "192.0.2.99", "198.51.100.1"},
		{"unknown makes the client unknown", "10.0.0.2:1", []string{"for=198.51.100.1, for=unknown"}, "", web.UnknownClient},
		{"obfuscated makes the client unknown", "10.0.0.2:1", []string{`for=198.51.100.1, for="_hidden", for=10.0.0.7`}, "", web.UnknownClient},
		{"element without for", "10.0.0.2:1", []string{"proto=https"}, "", web.UnknownClient},
		{"trusted proxy without any header", "10.0.0.2:1", nil, "", web.UnknownClient},
		{"comma inside quotes", "10.0.0.2:1", []string{`for=198.51.100.4;ext="a,b"`}, "", "198.51.100.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.forwarded {
				r.Header.Add("Forwarded", v)
			}
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := srv.ClientIP(r); got != tt.want {
				t.Errorf("ClientIP(remote %s, Forwarded %q) = %q, want %q", tt.remote, tt.forwarded, got, tt.want)
			}
		})
	}
}

func TestRemoteAccessNeedsAAL2(t *testing.T) {
	e := newForwardEnv(t)
	tests := []struct {
		name, token, from string
		want              int
	}{
		{"AAL1 inside", e.clerk1, "10.9.9.9", 200},
		{"AAL1 session now outside must step up", e.clerk1, "198.51.100.7", 401},
		{"AAL2 outside", e.clerk2, "198.51.100.7", 200},
	}
	for _, tt := range tests {
		a := e.do(t, "GET", "/api/v1/session", "", "", "Authorization: Bearer "+tt.token, "X-Forwarded-For: "+tt.from)
		if a.Status != tt.want {
			t.Errorf("%s: GET /api/v1/session = %d %s, want %d", tt.name, a.Status, a.Body, tt.want)
		}
		if tt.want == 401 && a.JSON(t)["error"] != ordergate.ESTEPUP {
			t.Errorf("%s: error = %v, want %s", tt.name, a.JSON(t)["error"], ordergate.ESTEPUP)
		}
	}
	// The way to AAL2 stays open.
	if a := e.do(t, "POST", "/api/v1/logout", "", "", "Authorization: Bearer "+e.clerk1, "X-Forwarded-For: 198.51.100.7"); a.Status != http.StatusNoContent {
		t.Errorf("logout from outside = %d, want 204", a.Status)
	}
}

func TestRiskDeniedAndDecisionsPage(t *testing.T) {
	e := newForwardEnv(t)
	// One weight high enough that a new browser alone is denied.
	e.Auth.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{Weights: risk.Weights{risk.ReasonNewDevice: 95}}, e.Clock), Store: e.DB}
	e.DeviceKey = []byte("0123456789abcdef0123456789abcdef")
	// The test's requests come through the trusted proxy from inside.
	const inside = "X-Forwarded-For: 10.1.2.3"
	MustCreateUser(t, e.Auth, "dora", alicePassword)
	a := e.do(t, "POST", "/api/v1/login", jsonType, loginBody("dora", alicePassword), inside)
	e.Clock.Add(time.Minute)
	if a.Status != http.StatusForbidden {
		t.Fatalf("login from a new browser with new_device=95: %d %s, want 403", a.Status, a.Body)
	}
	body := a.JSON(t)
	if body["error"] != ordergate.EDENIED || !slices.Equal(toStrings(body["reasons"]), []string{risk.ReasonNewDevice, risk.ReasonNewNetwork}) {
		t.Errorf("denial body = %v, want access_denied with reasons [new_device new_network]", body)
	}

	// A milder engine: the login passes, the browser gets its device
	// cookie, and the next login from it is no longer a new device.
	e.Auth.Adaptive.Engine = risk.New(risk.Config{}, e.Clock)
	a = e.do(t, "POST", "/api/v1/login", jsonType, loginBody("dora", alicePassword), inside)
	dev := a.Cookie("ordergate_device")
	e.Clock.Add(time.Minute)
	if a.Status != 200 || dev == nil || !slices.Equal(toStrings(a.JSON(t)["reasons"]), []string{risk.ReasonNewDevice, risk.ReasonNewNetwork}) {
		t.Fatalf("login = %d %s, device cookie %v; want 200 with reasons and a device cookie", a.Status, a.Body, dev)
	}
	a = e.do(t, "POST", "/api/v1/login", jsonType, loginBody("dora", alicePassword), inside, "Cookie: ordergate_device="+dev.Value)
	e.Clock.Add(time.Minute)
	if r := a.JSON(t)["reasons"]; a.Status != 200 || r != nil {
		t.Errorf("login from the known browser = %d reasons %v, want 200 and no reasons", a.Status, r)
	}
	forged := strings.SplitN(dev.Value, ".", 2)[0] + ".AAAA"
	a = e.do(t, "POST", "/api/v1/login", jsonType, loginBody("dora", alicePassword), inside, "Cookie: ordergate_device="+forged)
	if !slices.Contains(toStrings(a.JSON(t)["reasons"]), risk.ReasonNewDevice) {
		t.Errorf("login with a forged device cookie: reasons %v, want new_device", a.JSON(t)["reasons"])
	}

	tests := []struct {
		name, token string
		want        int
	}{
		{"AAL2 admin", e.admin2, 200},
		{"AAL1 admin", e.admin1, 401},
		{"clerk", e.clerk2, 403},
	}
	for _, tt := range tests {
		a := e.do(t, "GET", "/api/v1/admin/risk-decisions", "", "", "Authorization: Bearer "+tt.token)
		if a.Status != tt.want {
			t.Errorf("%s: GET risk-decisions = %d, want %d", tt.name, a.Status, tt.want)
		}
	}
	a = e.do(t, "GET", "/api/v1/admin/risk-decisions?limit=10", "", "", "Authorization: Bearer "+e.admin2)
	var page struct {
		Decisions []struct {
			Username, Decision string
			Score              int
			Reasons            []string
		}
	}
	if err := json.Unmarshal(a.Body, &page); err != nil || len(page.Decisions) != 4 {
		t.Fatalf("risk decisions = %s (%v), want 4", a.Body, err)
	}
	if last := page.Decisions[3]; last.Decision != "deny" || last.Username != "dora" || last.Score != 100 {
		t.Errorf("oldest decision = %+v, want dora's deny at 100", last)
	}
	if a := e.do(t, "GET", "/api/v1/admin/risk-decisions?limit=0", "", "", "Authorization: Bearer "+e.admin2); a.Status != 400 {
		t.Errorf("limit=0 = %d, want 400", a.Status)
	}
	m := e.do(t, "GET", "/metrics", "", "")
	if !strings.Contains(string(m.Body), `ordergate_security_events_total{kind="risk_denied"} 1`) {
		t.Errorf("/metrics lacks the risk_denied security event")
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
