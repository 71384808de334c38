package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// testUpgradeSession covers the one transaction of a second factor: the
// step spent, the session replaced, the throttle forgotten, the login
// confirmed and the event appended together, or nothing at all.
func testUpgradeSession(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "uma", "admin")
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f := &auth.Factor{ID: "fac_up1", UserID: u.ID, Type: auth.MethodTOTP, Name: "app", Secret: []byte("sealed"), CreatedAt: t0}
	if err := db.CreateFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := db.ConfirmFactor(ctx, f.ID, 100); err != nil {
		t.Fatal(err)
	}
	pending := func(token string) *auth.Session {
		s := &auth.Session{ID: auth.HashToken(token), UserID: u.ID, State: auth.StatePending, CSRFToken: "c",
			Auth:      ordergate.AuthContext{AAL: ordergate.AALNone, AMR: []string{"pwd"}, AuthTime: t0, SessionID: "sess_" + token},
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	key := "mfa:user:" + u.ID
	if _, err := db.ThrottleFail(ctx, key, auth.AccountThrottle, t0); err != nil {
		t.Fatal(err)
	}
	rec := &auth.LoginRecord{UserID: u.ID, At: t0, ClientIP: "192.0.2.7", Network: "192.0.2.0/24", DeviceID: "dev_up",
		Outcome: auth.LoginMFARequired, SessionID: "sess_p1"}
	if err := db.RecordLoginRisk(ctx, rec, nil); err != nil {
		t.Fatal(err)
	}
	old := pending("p1")
	upgrade := func(old *auth.Session, token string, step int64) (*auth.Session, error) {
		next := *old
		next.ID, next.State, next.Auth.AAL = auth.HashToken(token), auth.StateActive, ordergate.AAL2
		ev := audit.Event{At: t0, Action: "login.mfa", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor, SubjectID: u.ID}
		return &next, db.UpgradeSession(ctx, auth.SessionUpgrade{OldID: old.ID, Next: &next, ThrottleKey: key,
			Step:   &auth.UsedStep{FactorID: f.ID, Step: step, At: t0},
			Login:  &auth.LoginConfirmation{UserID: u.ID, SessionID: old.Auth.SessionID, UserAgent: "Firefox", At: t0},
			Events: []audit.Event{ev}})
	}
	head, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A step not later than the last one used writes nothing.
	next, err := upgrade(old, "n1", 100)
	if !errors.Is(err, auth.ErrStepUsed) {
		t.Fatalf("UpgradeSession(used step) = %v, want ErrStepUsed", err)
	}
	if _, err := db.SessionByID(ctx, old.ID); err != nil {
		t.Errorf("refused upgrade removed the old session: %v", err)
	}
	if _, err := db.SessionByID(ctx, next.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("refused upgrade stored the new session: %v", err)
	}
	if l, _ := db.ThrottleState(ctx, key); l.Failures != 1 {
		t.Errorf("refused upgrade: throttle failures = %d, want 1", l.Failures)
	}
	if h, _ := db.AuditHead(ctx); h.Seq != head.Seq {
		t.Errorf("refused upgrade appended to the audit chain: seq %d, want %d", h.Seq, head.Seq)
	}

	// A later step does everything at once.
	next, err = upgrade(old, "n2", 101)
	if err != nil {
		t.Fatalf("UpgradeSession: %v", err)
	}
	if _, err := db.SessionByID(ctx, old.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("old session still found after UpgradeSession")
	}
	if got, err := db.SessionByID(ctx, next.ID); err != nil || got.Auth.AAL != ordergate.AAL2 {
		t.Errorf("new session = %+v, %v; want AAL2", got, err)
	}
	if got, _ := db.Factor(ctx, u.ID, f.ID); got.LastUsedStep != 101 {
		t.Errorf("factor's last used step = %d, want 101", got.LastUsedStep)
	}
	if l, _ := db.ThrottleState(ctx, key); l.Failures != 0 {
		t.Errorf("throttle failures after UpgradeSession = %d, want 0", l.Failures)
	}
	p, err := db.RiskProfile(ctx, u.ID, "dev_up", "192.0.2.0/24", 10, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p.Device == nil || p.Device.UserAgent != "Firefox" || !p.NetworkKnown || len(p.History) != 1 {
		t.Errorf("risk profile after UpgradeSession = %+v, want the login confirmed and its device and network known", p)
	}
	if h, _ := db.AuditHead(ctx); h.Seq != head.Seq+1 {
		t.Errorf("audit seq after UpgradeSession = %d, want %d", h.Seq, head.Seq+1)
	}

	// The same step on another pending session of the same user is refused,
	// and a login without a risk record upgrades all the same.
	other := pending("p2")
	if _, err := upgrade(other, "n3", 101); !errors.Is(err, auth.ErrStepUsed) {
		t.Errorf("UpgradeSession(step spent by another session) = %v, want ErrStepUsed", err)
	}
	if _, err := upgrade(other, "n4", 102); err != nil {
		t.Errorf("UpgradeSession without a recorded login: %v", err)
	}
	if _, err := upgrade(other, "n5", 103); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("UpgradeSession of a replaced session: code %q, want not_found", ordergate.ErrorCode(err))
	}
}
