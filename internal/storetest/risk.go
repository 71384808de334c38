package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// testRisk covers the risk signals: login history, known networks and
// devices, remembered devices and risk decisions.
func testRisk(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "rita", "clerk")
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	london := risk.Location{Country: "GB", Lat: 51.5, Lon: -0.12, HasCoords: true}

	p, err := db.RiskProfile(ctx, u.ID, "dev_a", "192.0.2.0/24", 10, t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p.Device != nil || p.NetworkKnown || len(p.History) != 0 || p.Failures != 0 {
		t.Fatalf("RiskProfile of a new user = %+v, want nothing known", p)
	}

	// A failure, then a pending login that is completed by its second factor.
	fail := &auth.LoginRecord{UserID: u.ID, At: t0, ClientIP: "192.0.2.7", Network: "192.0.2.0/24", Outcome: auth.OutcomeFailed}
	if err := db.RecordLoginRisk(ctx, fail, nil); err != nil {
		t.Fatal(err)
	}
	pending := &auth.LoginRecord{UserID: u.ID, At: t0.Add(time.Minute), ClientIP: "192.0.2.7", Network: "192.0.2.0/24",
		DeviceID: "dev_a", Location: london, Outcome: auth.LoginMFARequired, SessionID: "sess_pending"}
	dec := &auth.RiskDecision{At: t0.Add(time.Minute), UserID: u.ID, Username: "rita", Action: "login", ClientIP: "192.0.2.7",
		Country: "GB", Score: 30, Decision: risk.Allow, Reasons: []string{risk.ReasonNewDevice, risk.ReasonNewNetwork},
		Factors: []risk.Factor{{Reason: risk.ReasonNewDevice, Points: 15, Detail: "x"}, {Reason: risk.ReasonNewNetwork, Points: 15, Detail: "y"}}}
	ev := audit.Event{At: t0, Action: "login", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor, SubjectID: u.ID}
	if err := db.RecordLoginRisk(ctx, pending, dec, ev); err != nil {
		t.Fatal(err)
	}
	p, err = db.RiskProfile(ctx, u.ID, "dev_a", "192.0.2.0/24", 10, t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p.Device != nil || p.NetworkKnown || len(p.History) != 0 || p.Failures != 1 {
		t.Errorf("RiskProfile before completion = device %v known %v history %d failures %d, want nil false 0 1",
			p.Device, p.NetworkKnown, len(p.History), p.Failures)
	}
	if err := db.ConfirmLoginRisk(ctx, u.ID, "sess_nope", "", t0); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("ConfirmLoginRisk(unknown session) code = %q, want not_found", ordergate.ErrorCode(err))
	}
	if err := db.ConfirmLoginRisk(ctx, u.ID, "sess_pending", "Firefox", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	p, err = db.RiskProfile(ctx, u.ID, "dev_a", "192.0.2.0/24", 10, t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p.Device == nil || p.Device.UserAgent != "Firefox" || !p.NetworkKnown || len(p.History) != 1 || p.Failures != 0 {
		t.Fatalf("RiskProfile after completion = %+v, want device, known network, one login, failures reset", p)
	}
	if h := p.History[0]; h.Location != london || !h.At.Equal(t0.Add(time.Minute)) || !h.Completed || h.DeviceID != "dev_a" {
		t.Errorf("History[0] = %+v, want the London login at t0+1m, completed, dev_a", h)
	}
	other, _ := db.RiskProfile(ctx, u.ID, "dev_b", "198.51.100.0/24", 10, t0)
	if other.Device != nil || other.NetworkKnown {
		t.Errorf("RiskProfile(other device, network) = %+v, want unknown", other)
	}

	// An authenticated login is completed at once; history is newest first
	// and limited; a login without a location keeps none.
	for i := 2; i < 5; i++ {
		l := &auth.LoginRecord{UserID: u.ID, At: t0.Add(time.Duration(i) * time.Hour), ClientIP: "2001:db8::1", Network: "2001:db8::/48",
			Outcome: auth.LoginAuthenticated, Completed: true}
		if err := db.RecordLoginRisk(ctx, l, nil); err != nil {
			t.Fatal(err)
		}
	}
	p, _ = db.RiskProfile(ctx, u.ID, "", "2001:db8::/48", 2, t0)
	if !p.NetworkKnown || len(p.History) != 2 || !p.History[0].At.Equal(t0.Add(4*time.Hour)) || p.History[0].Location.HasCoords {
		t.Errorf("RiskProfile(n=2) = known %v history %+v, want known, the two newest, no location", p.NetworkKnown, p.History)
	}

	// Remembering, listing and forgetting devices.
	if err := db.RememberDevice(ctx, u.ID, "dev_zz", t0.Add(time.Hour)); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("RememberDevice(unknown device) code = %q, want not_found", ordergate.ErrorCode(err))
	}
	until := t0.Add(30 * 24 * time.Hour)
	if err := db.RememberDevice(ctx, u.ID, "dev_a", until, ev); err != nil {
		t.Fatal(err)
	}
	ds, err := db.Devices(ctx, u.ID)
	if err != nil || len(ds) != 1 || !ds[0].RememberedUntil.Equal(until) || !ds[0].Remembered(t0) || ds[0].Remembered(until) {
		t.Fatalf("Devices = %+v, %v; want dev_a remembered until %v", ds, err, until)
	}
	n, err := db.ForgetRememberedDevices(ctx, u.ID, ev)
	if err != nil || n != 1 {
		t.Errorf("ForgetRememberedDevices = %d, %v; want 1, nil", n, err)
	}
	if ds, _ := db.Devices(ctx, u.ID); len(ds) != 1 || !ds[0].RememberedUntil.IsZero() {
		t.Errorf("after ForgetRememberedDevices: %+v, want dev_a kept but not remembered", ds)
	}
	if err := db.ForgetDevice(ctx, u.ID, "dev_a", ev); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetDevice(ctx, u.ID, "dev_a"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("ForgetDevice twice code = %q, want not_found", ordergate.ErrorCode(err))
	}

	// Decisions, newest first.
	act := &auth.RiskDecision{At: t0.Add(time.Hour), UserID: u.ID, Username: "rita", Action: "order.approve", Score: 40,
		Decision: risk.SecondFactor, Reasons: []string{risk.ReasonUnusualAmount}}
	if err := db.RecordRiskDecision(ctx, act, ev); err != nil {
		t.Fatal(err)
	}
	got, err := db.RiskDecisions(ctx, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("RiskDecisions = %v, %v; want 2", got, err)
	}
	if got[0].Action != "order.approve" || got[0].Decision != risk.SecondFactor || len(got[0].Factors) != 0 ||
		got[1].Country != "GB" || !slices.Equal(got[1].Reasons, dec.Reasons) || got[1].Factors[1].Points != 15 {
		t.Errorf("RiskDecisions = %+v, %+v", got[0], got[1])
	}
	if got, _ := db.RiskDecisions(ctx, 1); len(got) != 1 {
		t.Errorf("RiskDecisions(limit 1) returned %d", len(got))
	}
}
