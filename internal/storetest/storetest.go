// Package storetest is the one contract every ordergate database adapter
// must meet. The sqlite and postgres packages run it against a real
// database each, so the two cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// ChainKey is the audit key the suite's databases are opened with.
var ChainKey = []byte("0123456789abcdef0123456789abcdef")

// Opener returns a new, empty, migrated database for one test.
type Opener func(t *testing.T) *sqlstore.DB

// Run runs the whole contract against databases from open.
func Run(t *testing.T, open Opener) {
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("UpgradeSession", func(t *testing.T) { testUpgradeSession(t, open(t)) })
	t.Run("ThrottleConcurrent", func(t *testing.T) { testThrottle(t, open(t)) })
	t.Run("AuditChain", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("AuditTamper", func(t *testing.T) { testAuditTamper(t, open) })
	t.Run("Recovery", func(t *testing.T) { testRecovery(t, open) })
	t.Run("Risk", func(t *testing.T) { testRisk(t, open(t)) })
	t.Run("Orders", func(t *testing.T) { testOrders(t, open) })
	t.Run("WebAuthn", func(t *testing.T) { testWebAuthn(t, open(t)) })
	t.Run("Admin", func(t *testing.T) { testAdmin(t, open) })
	t.Run("HardwareTokens", func(t *testing.T) { testHardwareTokens(t, open(t)) })
	t.Run("RawPayloads", func(t *testing.T) { testRawPayloads(t, open(t)) })
}

var ctx = context.Background()

func testMigrate(t *testing.T, db *sqlstore.DB) {
	n, err := db.Migrate(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0 applied, nil", n, err)
	}
}

func newUser(t *testing.T, db *sqlstore.DB, name string, roles ...string) *auth.User {
	t.Helper()
	u := &auth.User{Username: name, PasswordHash: "$argon2id$x", Roles: roles, Groups: []string{"finance"}}
	ev := audit.Event{Action: "user.created", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
	if err := db.CreateUser(ctx, u, ev); err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func testUsers(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "alice", "admin", "clerk")
	dup := &auth.User{Username: "alice", PasswordHash: "x", Roles: []string{"clerk"}}
	if err := db.CreateUser(ctx, dup); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("CreateUser(duplicate) error code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}
	bad := &auth.User{Username: "bob", PasswordHash: "x", Roles: []string{"no-such-role"}}
	if err := db.CreateUser(ctx, bad); err == nil {
		t.Errorf("CreateUser with unknown role succeeded")
	}
	if _, err := db.UserByUsername(ctx, "bob"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("user with unknown role was half-written: UserByUsername(bob) err = %v", err)
	}
	got, err := db.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || len(got.Roles) != 2 || got.Roles[0] != "admin" || got.Groups[0] != "finance" {
		t.Errorf("UserByUsername = %+v, want id %s roles [admin clerk] groups [finance]", got, u.ID)
	}
	if _, err := db.UserByID(ctx, "usr_nope"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("UserByID(unknown) code = %q, want not_found", ordergate.ErrorCode(err))
	}
	newUser(t, db, "bob", "clerk")
	all, err := db.ListUsers(ctx)
	if err != nil || len(all) != 2 || all[1].Username != "bob" || all[1].Roles[0] != "clerk" {
		t.Fatalf("ListUsers = %v, %v", all, err)
	}
	if err := db.SetUserRoles(ctx, u.ID, []string{"auditor"}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.UserByID(ctx, u.ID)
	if len(got.Roles) != 1 || got.Roles[0] != "auditor" {
		t.Errorf("roles after SetUserRoles = %v, want [auditor]", got.Roles)
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	if err := db.RecordLogin(ctx, u.ID, at, "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.UserByID(ctx, u.ID)
	if !got.LastLoginAt.Equal(at) || got.PasswordHash != "$argon2id$new" {
		t.Errorf("after RecordLogin: last login %v hash %q", got.LastLoginAt, got.PasswordHash)
	}
}

func testSessions(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "carol", "clerk")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	s := &auth.Session{ID: auth.HashToken("t1"), UserID: u.ID, State: auth.StatePending, CSRFToken: "c",
		Auth:      ordergate.AuthContext{AAL: ordergate.AALNone, AMR: []string{"pwd"}, AuthTime: now, ClientIP: "10.0.0.1"},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	up := *s
	up.ID, up.State, up.Auth.AAL, up.Auth.AMR = auth.HashToken("t2"), auth.StateActive, ordergate.AAL2, []string{"pwd", "otp"}
	if err := db.ReplaceSession(ctx, s.ID, &up); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceSession(ctx, s.ID, &up); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("second ReplaceSession of the same old session: code %q, want not_found", ordergate.ErrorCode(err))
	}
	if _, err := db.SessionByID(ctx, s.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("old session still found after ReplaceSession")
	}
	got, err := db.SessionByID(ctx, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != auth.StateActive || got.Auth.AAL != ordergate.AAL2 || len(got.Auth.AMR) != 2 || !got.ExpiresAt.Equal(up.ExpiresAt) {
		t.Errorf("SessionByID = %+v", got)
	}
	if err := db.TouchSession(ctx, up.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.SessionByID(ctx, up.ID); !got.LastSeenAt.Equal(now.Add(time.Minute)) {
		t.Errorf("LastSeenAt = %v after TouchSession", got.LastSeenAt)
	}
	other := up
	other.ID = auth.HashToken("t3")
	db.CreateSession(ctx, &other)
	if err := db.DeleteUserSessions(ctx, u.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByID(ctx, up.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("DeleteUserSessions left a session")
	}
	if _, err := db.SessionByID(ctx, other.ID); err != nil {
		t.Errorf("DeleteUserSessions removed the kept session: %v", err)
	}
}

func testThrottle(t *testing.T, db *sqlstore.DB) {
	now := time.Now().UTC()
	th := auth.AccountThrottle
	const n = 20
	head, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := audit.Event{At: now, Action: "login", Outcome: audit.OutcomeFailed, Actor: ordergate.SystemActor}
			_, err := db.ThrottleFail(ctx, "login:user:x", th, now, ev)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent ThrottleFail: %v", err)
		}
	}
	l, err := db.ThrottleState(ctx, "login:user:x")
	if err != nil || l.Failures != n || !l.Until.Equal(now.Truncate(time.Microsecond).Add(th.Wait(n))) {
		t.Errorf("ThrottleState = %+v, %v; want %d failures locked %v", l, err, n, th.Wait(n))
	}
	if h, _ := db.AuditHead(ctx); h.Seq != head.Seq+n {
		t.Errorf("audit seq after %d failures with their events = %d, want %d", n, h.Seq, head.Seq+n)
	}
	// A failure after the reset window starts counting afresh.
	l, _ = db.ThrottleFail(ctx, "login:user:x", th, now.Add(th.Reset+time.Second))
	if l.Failures != 1 {
		t.Errorf("failures after the reset window = %d, want 1", l.Failures)
	}
	db.ThrottleReset(ctx, "login:user:x")
	if l, _ := db.ThrottleState(ctx, "login:user:x"); l.Failures != 0 {
		t.Errorf("failures after reset = %d", l.Failures)
	}
}

func chain(t *testing.T) *audit.Chain {
	c, err := audit.NewChain(ChainKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func appendMany(t *testing.T, db *sqlstore.DB, writers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := db.AppendAudit(ctx, audit.Event{Action: "test.event", Outcome: audit.OutcomeOK,
					Actor: ordergate.SystemActor, OrderID: "ord_1", Data: map[string]any{"w": w, "i": i, "big": int64(1) << 60}})
				if err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatalf("concurrent AppendAudit: %v", first)
	}
}

func testAudit(t *testing.T, db *sqlstore.DB) {
	appendMany(t, db, 8, 10)
	res, err := chain(t).VerifyStore(ctx, db)
	if err != nil || !res.OK || res.Events != 80 {
		t.Fatalf("VerifyStore = %+v, %v; want ok with 80 events", res, err)
	}
	evs, err := db.AuditEvents(ctx, audit.Filter{OrderID: "ord_1", Limit: 5})
	if err != nil || len(evs) != 5 || evs[0].Seq != 80 || evs[0].Actor.Name != "system" {
		t.Fatalf("AuditEvents = %d events (first %+v), %v", len(evs), evs, err)
	}
	page2, _ := db.AuditEvents(ctx, audit.Filter{OrderID: "ord_1", Limit: 5, Before: evs[4].Seq})
	if len(page2) != 5 || page2[0].Seq != 75 {
		t.Errorf("second page starts at %v, want 75", page2)
	}
}

func testAuditTamper(t *testing.T, open Opener) {
	cases := []struct {
		name   string
		query  string
		broken int64
	}{
		{"changed body", `UPDATE audit_events SET body = replace(body, 'test.event', 'test.evenT') WHERE seq = 3`, 3},
		{"changed column", `UPDATE audit_events SET action = 'other' WHERE seq = 4`, 4},
		{"removed row", `DELETE FROM audit_events WHERE seq = 2`, 2},
		{"removed newest", `DELETE FROM audit_events WHERE seq = 5`, 5},
		{"reordered", `UPDATE audit_events SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)`, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			appendMany(t, db, 1, 5)
			if tc.name == "reordered" {
				// Swap through a free number so the primary key allows it.
				for _, q := range []string{`UPDATE audit_events SET seq = 100 WHERE seq = 2`,
					`UPDATE audit_events SET seq = 2 WHERE seq = 3`, `UPDATE audit_events SET seq = 3 WHERE seq = 100`} {
					if _, err := db.SQL().ExecContext(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			} else if _, err := db.SQL().ExecContext(ctx, tc.query); err != nil {
				t.Fatal(err)
			}
			res, err := chain(t).VerifyStore(ctx, db)
			if err != nil || res.OK || res.BrokenAt != tc.broken {
				t.Errorf("VerifyStore after %s = %+v, %v; want broken at %d", tc.name, res, err, tc.broken)
			}
		})
	}
}
