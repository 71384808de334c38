package auth_test

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/secret"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// mapLocator places a few addresses; GeoIP's own tests use the real data.
type mapLocator map[string]risk.Location

func (m mapLocator) Locate(a netip.Addr) (risk.Location, bool) {
	l, ok := m[a.String()]
	return l, ok
}

var (
	london = risk.Location{Country: "GB", Lat: 51.5, Lon: -0.12, HasCoords: true}
	paris  = risk.Location{Country: "FR", Lat: 48.86, Lon: 2.35, HasCoords: true}
	sydney = risk.Location{Country: "AU", Lat: -33.87, Lon: 151.21, HasCoords: true}
)

func newAdaptiveService(t testing.TB) (*auth.Service, *sqlstore.DB, *testClock) {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	chain, _ := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "og.db"), chain, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.LoadOrCreate(filepath.Join(dir, "og.key"))
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.NewService(db, keys, clock, slog.New(slog.DiscardHandler))
	svc.Policy.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	svc.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{}, clock), Store: db,
		Locator: mapLocator{"10.0.0.5": london, "10.9.9.9": sydney, "10.7.7.7": paris, "203.0.113.9": paris}}
	if _, err := svc.CreateUser(ctx, ordergate.SystemActor, auth.NewUser{Username: "bob", Password: "correct horse battery staple",
		Roles: []string{auth.RoleClerk}}); err != nil {
		t.Fatal(err)
	}
	return svc, db, clock
}

func TestLoginRisk(t *testing.T) {
	ctx := context.Background()
	svc, db, clock := newAdaptiveService(t)
	login := func(ip, device string) (*auth.LoginResult, error) {
		return svc.Login(ctx, "bob", "correct horse battery staple", auth.Client{IP: ip, UserAgent: "test", DeviceID: device})
	}

	first, err := login("10.0.0.5", "")
	if err != nil {
		t.Fatal(err)
	}
	device := first.Risk.DeviceID
	if first.State != auth.LoginAuthenticated || device == "" ||
		!slices.Equal(first.Session.Auth.Risk, []string{risk.ReasonNewDevice, risk.ReasonNewNetwork}) {
		t.Fatalf("first login = %s, device %q, auth risk %v; want authenticated with a new device id and [new_device new_network]",
			first.State, device, first.Session.Auth.Risk)
	}

	clock.Add(time.Hour)
	again, err := login("10.0.0.5", device)
	if err != nil || again.State != auth.LoginAuthenticated || len(again.Session.Auth.Risk) != 0 || again.Risk.DeviceID != device {
		t.Fatalf("second login from the same browser and network = %+v, %v; want authenticated, no risk", again, err)
	}

	clock.Add(30 * time.Minute)
	_, err = login("10.9.9.9", device)
	if ordergate.ErrorCode(err) != ordergate.EDENIED {
		t.Fatalf("login from Sydney 30 minutes after London: code %q, want access_denied", ordergate.ErrorCode(err))
	}
	var e *ordergate.Error
	if !asError(err, &e) || !slices.Contains(e.Details["reasons"].([]string), risk.ReasonImpossibleTravel) {
		t.Errorf("denial details = %v, want reasons with %s", e.Details, risk.ReasonImpossibleTravel)
	}

	clock.Add(48 * time.Hour)
	res, err := login("10.7.7.7", device)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != auth.LoginEnrollmentRequired || !slices.Contains(res.Reasons, risk.ReasonNewCountry) {
		t.Errorf("login from a new country two days later = %s %v; want enrollment_required with %s", res.State, res.Reasons, risk.ReasonNewCountry)
	}

	ds, err := svc.RiskDecisions(ctx, 10)
	if err != nil || len(ds) != 4 {
		t.Fatalf("RiskDecisions = %d, %v; want 4", len(ds), err)
	}
	if ds[1].Decision != risk.Deny || ds[1].Country != "AU" || ds[1].Score != 100 || ds[0].Decision != risk.SecondFactor {
		t.Errorf("decisions = %+v / %+v; want the newest second_factor and the Sydney deny", ds[0], ds[1])
	}
	evs, err := db.AuditEvents(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, ev := range evs {
		if ev.Action == "login" && ev.Outcome == audit.OutcomeDenied {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("audit has %d denied logins, want 1", denied)
	}
}

func TestLoginRiskFailuresAndRemote(t *testing.T) {
	ctx := context.Background()
	svc, _, clock := newAdaptiveService(t)
	first, err := svc.Login(ctx, "bob", "correct horse battery staple", auth.Client{IP: "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		clock.Add(time.Second)
		if _, err := svc.Login(ctx, "bob", "wrong password", auth.Client{IP: "10.0.0.5"}); ordergate.ErrorCode(err) != ordergate.ECREDENTIALS {
			t.Fatalf("wrong password: %v", err)
		}
	}
	clock.Add(time.Minute)
	res, err := svc.Login(ctx, "bob", "correct horse battery staple", auth.Client{IP: "10.0.0.5", DeviceID: first.Risk.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Risk.Reasons(), []string{risk.ReasonRecentFailures}) {
		t.Errorf("login after 3 failures: risk %v, want [%s]", res.Risk.Reasons(), risk.ReasonRecentFailures)
	}
	clock.Add(time.Hour)
	res, err = svc.Login(ctx, "bob", "correct horse battery staple", auth.Client{IP: "203.0.113.9", DeviceID: first.Risk.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != auth.LoginEnrollmentRequired || !slices.Contains(res.Reasons, "remote_access") || !slices.Contains(res.Reasons, risk.ReasonRemote) {
		t.Errorf("remote login = %s %v; want enrollment_required for remote_access and %s", res.State, res.Reasons, risk.ReasonRemote)
	}
}

func asError(err error, target **ordergate.Error) bool {
	e, ok := err.(*ordergate.Error)
	*target = e
	return ok
}
