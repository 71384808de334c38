package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/storetest"
)

var ctx = context.Background()

// openSQLite opens the migrated SQLite database at path.
func openSQLite(tb testing.TB, path string) *sqlstore.DB {
	tb.Helper()
	db, err := sqlite.Open(ctx, path, chain(tb), ordergate.SystemClock{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

func chain(tb testing.TB) *audit.Chain {
	tb.Helper()
	c, err := audit.NewChain(storetest.ChainKey)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func verify(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	if res, err := chain(t).VerifyStore(ctx, db); err != nil || !res.OK {
		t.Errorf("audit chain: %+v, %v; want it to verify", res, err)
	}
}

func count(t *testing.T, db *sqlstore.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newOrder(ext string, total int64) *order.Order {
	return &order.Order{Channel: order.ChannelShopify, Source: "main-shop", ExternalID: ext, Number: "#" + ext,
		Status: order.StatusReceived, Currency: "USD", Customer: order.Customer{Name: "Bob Norman", Email: "bob@example.com"},
		Lines:    []order.Line{{SKU: "A", Quantity: 1, UnitPrice: total, Total: total}},
		Subtotal: total, Total: total, Warnings: []order.Warning{}, CreatedBy: "src_1", ModifiedBy: "src_1",
		PlacedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// TestIngestFailureInBatch delivers new orders together with changed
// deliveries whose update fails: SQLite takes concurrent deliveries in
// one transaction, and the failing ones must not undo the others nor
// leave a raw payload, an audit event or a raw payload ID behind.
func TestIngestFailureInBatch(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "ordergate.db"))
	src := &intake.Source{Channel: order.ChannelShopify, Name: "main-shop"}
	ev := audit.Event{Action: "source.created", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
	if err := db.CreateSource(ctx, src, ev); err != nil {
		t.Fatal(err)
	}
	received := audit.Event{Action: order.EventReceived, Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
	first := intake.Ingest{Raw: &intake.Raw{SourceID: src.ID, DeliveryID: "d-0", ContentType: "application/json", Body: []byte(`{}`)},
		Order: newOrder("1", 1000), Hash: "h1", Received: received}
	if _, err := db.IngestOrder(ctx, first); err != nil {
		t.Fatal(err)
	}
	refused := ordergate.Errorf(ordergate.EINVALID, "refused change")
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, 16)
		stored := make([]intake.Stored, 16)
		raws := make([]*intake.Raw, 16)
		for i := range 16 {
			raws[i] = &intake.Raw{SourceID: src.ID, DeliveryID: fmt.Sprintf("d-%d-%d", round, i), ContentType: "application/json", Body: []byte(`{}`)}
			in := intake.Ingest{Raw: raws[i], Order: newOrder(fmt.Sprintf("%d-%d", round, i), 1000), Hash: "h1", Received: received}
			if i%4 == 0 {
				// A changed delivery of the first order, whose update fails.
				in.Order, in.Hash = newOrder("1", 2000), "h2"
				in.Update = func(*order.Order) (audit.Event, error) { return audit.Event{}, refused }
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				stored[i], errs[i] = db.IngestOrder(ctx, in)
			}()
		}
		wg.Wait()
		for i := range 16 {
			switch {
			case i%4 == 0 && (ordergate.ErrorCode(errs[i]) != ordergate.EINVALID || stored[i].Order != nil || raws[i].ID != ""):
				t.Errorf("failing delivery %d = %+v, %v, raw ID %q; want invalid, nothing stored", i, stored[i], errs[i], raws[i].ID)
			case i%4 != 0 && (errs[i] != nil || !stored[i].Created || raws[i].ID == ""):
				t.Errorf("delivery %d = %+v, %v; want created", i, stored[i], errs[i])
			}
		}
	}
	if n := count(t, db, "orders"); n != 1+3*12 {
		t.Errorf("orders = %d, want %d", n, 1+3*12)
	}
	if n := count(t, db, "raw_payloads"); n != 1+3*12 {
		t.Errorf("raw payloads = %d, want %d: a failed delivery left its payload", n, 1+3*12)
	}
	if n := count(t, db, "audit_events"); n != 2+3*12 {
		t.Errorf("audit events = %d, want %d", n, 2+3*12)
	}
	verify(t, db)
}

// TestAuditAcrossProcesses appends through two stores on one SQLite
// file, as two processes would: each must notice the head the other
// moved, so that the chain stays gap-free and verifies.
func TestAuditAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ordergate.db")
	a, b := openSQLite(t, path), openSQLite(t, path)
	for i := range 6 {
		db := a
		if i%3 == 2 {
			db = b
		}
		ev := audit.Event{Action: fmt.Sprintf("test.%d", i), Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
		if err := db.AppendAudit(ctx, ev, ev); err != nil {
			t.Fatal(err)
		}
	}
	h, err := a.AuditHead(ctx)
	if err != nil || h.Seq != 12 {
		t.Errorf("head = %+v, %v; want seq 12", h, err)
	}
	verify(t, a)
}
