package sqlstore_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

// TestUpgradeSessionsInBatch sends second factors of many users at once,
// a quarter of them with a time step already spent: SQLite does them in
// shared transactions, and a refused one must neither undo the others
// nor leave its session replaced or its event appended.
func TestUpgradeSessionsInBatch(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "ordergate.db"))
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	const n = 32
	olds := make([]*auth.Session, n)
	factors := make([]string, n)
	for i := range n {
		u := &auth.User{Username: fmt.Sprintf("user%02d", i), PasswordHash: "x", Roles: []string{"clerk"}, CreatedAt: t0}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		factors[i] = fmt.Sprintf("fac_%02d", i)
		f := &auth.Factor{ID: factors[i], UserID: u.ID, Type: auth.MethodTOTP, Name: "app", Secret: []byte("s"), CreatedAt: t0}
		if err := db.CreateFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
		if err := db.ConfirmFactor(ctx, f.ID, 100); err != nil {
			t.Fatal(err)
		}
		olds[i] = &auth.Session{ID: auth.HashToken(fmt.Sprintf("p%d", i)), UserID: u.ID, State: auth.StatePending,
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(ctx, olds[i]); err != nil {
			t.Fatal(err)
		}
	}
	head, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nexts := make([]*auth.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		step := int64(101)
		if i%4 == 0 {
			step = 100 // spent
		}
		next := *olds[i]
		next.ID, next.State = auth.HashToken(fmt.Sprintf("n%d", i)), auth.StateActive
		nexts[i] = &next
		ev := audit.Event{At: t0, Action: "login.mfa", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor, SubjectID: next.UserID}
		wg.Go(func() {
			errs[i] = db.UpgradeSession(ctx, auth.SessionUpgrade{OldID: olds[i].ID, Next: nexts[i],
				Step: &auth.UsedStep{FactorID: factors[i], Step: step, At: t0}, Events: []audit.Event{ev}})
		})
	}
	wg.Wait()
	for i := range n {
		_, oldErr := db.SessionByID(ctx, olds[i].ID)
		_, nextErr := db.SessionByID(ctx, nexts[i].ID)
		if i%4 == 0 {
			if !errors.Is(errs[i], auth.ErrStepUsed) || oldErr != nil || nextErr == nil {
				t.Errorf("upgrade %d with a spent step = %v, old session %v, new session %v; want ErrStepUsed and nothing changed",
					i, errs[i], oldErr, nextErr)
			}
			continue
		}
		if errs[i] != nil || oldErr == nil || nextErr != nil {
			t.Errorf("upgrade %d = %v, old session %v, new session %v; want it replaced", i, errs[i], oldErr, nextErr)
		}
	}
	if h, _ := db.AuditHead(ctx); h.Seq != head.Seq+n*3/4 {
		t.Errorf("audit seq = %d, want %d: one event per upgrade done", h.Seq, head.Seq+n*3/4)
	}
	verify(t, db)
}
