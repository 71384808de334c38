package auth_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/geoip"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/testenv"
)

// BenchmarkRiskEvaluation measures the server time of one login's risk
// evaluation as assessLogin does it: the user's profile from SQLite (device,
// network, 50 logins of history, failures), the address throttle, a GeoIP
// lookup in an .mmdb built from tor-geoipdb, and the scoring. It reports
// p50 and p99:
//
//	go test -run '^$' -bench RiskEvaluation -benchtime 5000x ./internal/auth/
func BenchmarkRiskEvaluation(b *testing.B) {
	if _, err := os.Stat(geoip.TorGeoIPv4); err != nil {
		testenv.Missing(b, "Debian package tor-geoipdb")
	}
	f4, _ := os.Open(geoip.TorGeoIPv4)
	var buf bytes.Buffer
	_, err := geoip.Build(&buf, f4, nil, time.Now())
	f4.Close()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "c.mmdb")
	os.WriteFile(path, buf.Bytes(), 0o600)
	loc, err := geoip.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer loc.Close()

	ctx := context.Background()
	svc, db, clock := newAdaptiveService(b)
	u, _ := db.UserByUsername(ctx, "bob")
	for i := 0; i < 60; i++ {
		l := &auth.LoginRecord{UserID: u.ID, At: clock.Now().Add(-time.Duration(i) * 24 * time.Hour), ClientIP: "81.2.69.142",
			Network: "81.2.69.0/24", DeviceID: "dev_x", Outcome: auth.LoginAuthenticated, Completed: true,
			Location: risk.Location{Country: "GB", Lat: 55.4, Lon: -3.4, HasCoords: true}}
		if err := db.RecordLoginRisk(ctx, l, nil); err != nil {
			b.Fatal(err)
		}
	}
	engine := svc.Adaptive.Engine
	addr := netip.MustParseAddr("8.8.8.8")
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p, err := db.RiskProfile(ctx, u.ID, "dev_x", risk.Network(addr).String(), 50, clock.Now().Add(-24*time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.ThrottleState(ctx, "login:ip:8.8.8.8"); err != nil {
			b.Fatal(err)
		}
		where, _ := loc.Locate(addr)
		sig := risk.Signals{DeviceKnown: p.Device != nil, NetworkKnown: p.NetworkKnown, Location: where, AccountFailures: p.Failures}
		for _, h := range p.History {
			sig.History = append(sig.History, risk.Login{At: h.At, Location: h.Location})
		}
		a := engine.Assess(sig)
		times = append(times, time.Since(start))
		if i == 0 && !slices.Contains(a.Reasons(), risk.ReasonNewCountry) {
			b.Fatalf("GB user from 8.8.8.8: reasons %v, want new_country", a.Reasons())
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
}
