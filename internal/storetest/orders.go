package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// testOrders runs the contract of the order and intake stores.
func testOrders(t *testing.T, open Opener) {
	t.Run("Sources", func(t *testing.T) { testSources(t, open(t)) })
	t.Run("CreateGetList", func(t *testing.T) { testCreateGetList(t, open(t)) })
	t.Run("UpdateOrder", func(t *testing.T) { testUpdateOrder(t, open(t)) })
	t.Run("Ingest", func(t *testing.T) { testIngest(t, open(t)) })
	t.Run("IngestConcurrentDuplicates", func(t *testing.T) { testIngestConcurrent(t, open(t)) })
}

func sampleOrder(ext string) *order.Order {
	return &order.Order{Channel: order.ChannelShopify, Source: "main-shop", ExternalID: ext, Number: "#" + ext,
		Status: order.StatusReceived, Currency: "USD", Customer: order.Customer{Name: "Bob Norman", Email: "bob@example.com"},
		Lines:    []order.Line{{SKU: "A", Quantity: 2, UnitPrice: 500, Total: 1000}},
		Subtotal: 1000, Total: 1000, Warnings: []order.Warning{}, CreatedBy: "src_1", ModifiedBy: "src_1",
		PlacedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func orderEvent(action string) audit.Event {
	return audit.Event{Action: action, Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
}

func testSources(t *testing.T, db *sqlstore.DB) {
	src := &intake.Source{Channel: "shopify", Name: "main-shop", SealedSecret: []byte{1, 2, 3}}
	if err := db.CreateSource(ctx, src, orderEvent("source.created")); err != nil {
		t.Fatal(err)
	}
	dup := &intake.Source{Channel: "csv", Name: "main-shop", SecretHash: "ab"}
	if err := db.CreateSource(ctx, dup, orderEvent("source.created")); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("CreateSource(same name) code = %q, want conflict", ordergate.ErrorCode(err))
	}
	other := &intake.Source{Channel: "csv", Name: "uploads", SecretHash: "ab"}
	if err := db.CreateSource(ctx, other, orderEvent("source.created")); err != nil {
		t.Fatal(err)
	}
	got, err := db.SourceByID(ctx, src.ID)
	if err != nil || got.Name != "main-shop" || string(got.SealedSecret) != "\x01\x02\x03" || got.Revoked {
		t.Fatalf("SourceByID = %+v, %v", got, err)
	}
	if _, err := db.SourceByID(ctx, "src_nope"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("SourceByID(unknown) code = %q, want not_found", ordergate.ErrorCode(err))
	}
	list, err := db.SourcesByChannel(ctx, "csv")
	if err != nil || len(list) != 1 || list[0].ID != other.ID || list[0].SecretHash != "ab" {
		t.Errorf("SourcesByChannel(csv) = %v, %v", list, err)
	}
	if err := db.RecordIntakeFailure(ctx, src.ID, orderEvent("intake.refused")); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.SourceByID(ctx, src.ID); got.ErrorCount != 1 {
		t.Errorf("ErrorCount after RecordIntakeFailure = %d, want 1", got.ErrorCount)
	}
}

func testCreateGetList(t *testing.T, db *sqlstore.DB) {
	var ids []string
	for i := range 5 {
		o := sampleOrder(fmt.Sprint(1000 + i))
		o.CreatedAt = time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		if i == 3 {
			o.Status, o.Channel, o.Customer.Name = order.StatusNeedsReview, order.ChannelAmazon, "Ada 100% Lovelace"
		}
		if err := db.CreateOrder(ctx, o, orderEvent(order.EventCreated)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	if err := db.CreateOrder(ctx, sampleOrder("1000"), orderEvent(order.EventCreated)); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("CreateOrder(same external id) code = %q, want conflict", ordergate.ErrorCode(err))
	}
	got, err := db.OrderByID(ctx, ids[0])
	if err != nil || got.ExternalID != "1000" || got.Total != 1000 || got.Status != order.StatusReceived ||
		got.CreatedBy != "src_1" || !got.PlacedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || len(got.Lines) != 1 {
		t.Fatalf("OrderByID = %+v, %v", got, err)
	}
	if _, err := db.OrderByID(ctx, "ord_nope"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("OrderByID(unknown) code = %q, want not_found", ordergate.ErrorCode(err))
	}

	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		list, next, err := db.ListOrders(ctx, order.Filter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list {
			seen = append(seen, o.ExternalID)
		}
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("ListOrders does not end")
		}
		cursor = next
	}
	if fmt.Sprint(seen) != "[1004 1003 1002 1001 1000]" {
		t.Errorf("pages = %v, want newest first [1004 1003 1002 1001 1000]", seen)
	}
	cases := []struct {
		name string
		f    order.Filter
		want string
	}{
		{"status", order.Filter{Status: order.StatusNeedsReview}, "[1003]"},
		{"channel", order.Filter{Channel: order.ChannelShopify, Limit: 10}, "[1004 1002 1001 1000]"},
		{"q number", order.Filter{Q: "#1002"}, "[1002]"},
		{"q name case-insensitive", order.Filter{Q: "LOVELACE"}, "[1003]"},
		{"q percent is literal", order.Filter{Q: "100%"}, "[1003]"},
		{"q underscore is literal", order.Filter{Q: "10_2"}, "[]"},
		{"since", order.Filter{Since: time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)}, "[1004 1003]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, _, err := db.ListOrders(ctx, tc.f)
			var ext []string
			for _, o := range list {
				ext = append(ext, o.ExternalID)
			}
			if err != nil || fmt.Sprint(ext) != tc.want && !(tc.want == "[]" && len(ext) == 0) {
				t.Errorf("ListOrders(%+v) = %v, %v; want %s", tc.f, ext, err, tc.want)
			}
		})
	}
	if _, _, err := db.ListOrders(ctx, order.Filter{Cursor: "garbage!"}); ordergate.ErrorCode(err) != ordergate.EINVALID {
		t.Errorf("ListOrders(bad cursor) code = %q, want invalid_request", ordergate.ErrorCode(err))
	}
}

func testUpdateOrder(t *testing.T, db *sqlstore.DB) {
	o := sampleOrder("2000")
	if err := db.CreateOrder(ctx, o, orderEvent(order.EventCreated)); err != nil {
		t.Fatal(err)
	}
	got, err := db.UpdateOrder(ctx, o.ID, func(o *order.Order) (audit.Event, error) {
		o.Customer.Email, o.Status, o.ModifiedBy = "new@example.com", order.StatusPendingApproval, "usr_clerk"
		o.Approvals = append(o.Approvals, order.Approval{UserID: "usr_a", UserName: "ann", At: time.Now().UTC(),
			Evidence: map[string]any{"aal": float64(2)}})
		return orderEvent(order.EventModified), nil
	})
	if err != nil || got.Customer.Email != "new@example.com" {
		t.Fatalf("UpdateOrder = %+v, %v", got, err)
	}
	got, _ = db.OrderByID(ctx, o.ID)
	if got.Status != order.StatusPendingApproval || got.ModifiedBy != "usr_clerk" || len(got.Approvals) != 1 ||
		got.Approvals[0].UserName != "ann" || got.Approvals[0].Evidence["aal"] != float64(2) {
		t.Errorf("after UpdateOrder: %+v", got)
	}
	// A second approval by the same user is refused, and nothing changes.
	_, err = db.UpdateOrder(ctx, o.ID, func(o *order.Order) (audit.Event, error) {
		o.Status = order.StatusApproved
		o.Approvals = append(o.Approvals, order.Approval{UserID: "usr_a", UserName: "ann", At: time.Now().UTC()})
		return orderEvent(order.EventApproved), nil
	})
	if ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("double approval code = %q, want conflict", ordergate.ErrorCode(err))
	}
	// An error from change writes nothing.
	_, err = db.UpdateOrder(ctx, o.ID, func(o *order.Order) (audit.Event, error) {
		o.Status = order.StatusCancelled
		return audit.Event{}, ordergate.Errorf(ordergate.ECONFLICT, "no")
	})
	if ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("UpdateOrder with failing change: %v", err)
	}
	if got, _ := db.OrderByID(ctx, o.ID); got.Status != order.StatusPendingApproval || len(got.Approvals) != 1 {
		t.Errorf("a refused change was written: status %s, %d approvals", got.Status, len(got.Approvals))
	}
	evs, err := db.AuditEvents(ctx, audit.Filter{OrderID: o.ID})
	if err != nil || len(evs) != 2 || evs[0].Action != order.EventModified || evs[1].Action != order.EventCreated {
		t.Errorf("order events = %v, %v; want modified then created", evs, err)
	}
	if _, err := db.UpdateOrder(ctx, "ord_nope", func(*order.Order) (audit.Event, error) { return audit.Event{}, nil }); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("UpdateOrder(unknown) code = %q, want not_found", ordergate.ErrorCode(err))
	}
}

func ingest(src string, o *order.Order, hash, delivery string) intake.Ingest {
	return intake.Ingest{
		Raw:      &intake.Raw{SourceID: src, DeliveryID: delivery, ContentType: "application/json", Body: []byte(`{"id":1}`)},
		Order:    o,
		Hash:     hash,
		Received: orderEvent(order.EventReceived),
		Update: func(stored *order.Order) (audit.Event, error) {
			stored.Total, stored.Lines = o.Total, o.Lines
			return orderEvent(order.EventChannelUpdate), nil
		},
	}
}

func countRows(t *testing.T, db *sqlstore.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testIngest(t *testing.T, db *sqlstore.DB) {
	src := &intake.Source{Channel: "shopify", Name: "main-shop"}
	if err := db.CreateSource(ctx, src, orderEvent("source.created")); err != nil {
		t.Fatal(err)
	}
	st, err := db.IngestOrder(ctx, ingest(src.ID, sampleOrder("3000"), "h1", "d1"))
	if err != nil || !st.Created || st.Order.ID == "" || st.Order.RawPayloadID == "" {
		t.Fatalf("first IngestOrder = %+v, %v", st, err)
	}
	id := st.Order.ID
	st, err = db.IngestOrder(ctx, ingest(src.ID, sampleOrder("3000"), "h1", "d1"))
	if err != nil || st.Created || st.Updated || st.Order.ID != id {
		t.Fatalf("duplicate IngestOrder = %+v, %v; want the same order, not created", st, err)
	}
	changed := sampleOrder("3000")
	changed.Lines[0].Quantity, changed.Lines[0].Total, changed.Subtotal, changed.Total = 3, 1500, 1500, 1500
	st, err = db.IngestOrder(ctx, ingest(src.ID, changed, "h2", "d2"))
	if err != nil || !st.Updated || st.Order.ID != id || st.Order.Total != 1500 {
		t.Fatalf("changed IngestOrder = %+v, %v; want updated", st, err)
	}
	got, _ := db.OrderByID(ctx, id)
	if got.Total != 1500 || got.RawPayloadID == "" {
		t.Errorf("stored after channel update: total %d raw %q", got.Total, got.RawPayloadID)
	}
	if n := countRows(t, db, `SELECT count(*) FROM raw_payloads`); n != 2 {
		t.Errorf("raw payloads = %d, want 2 (the duplicate delivery is not stored again)", n)
	}
	evs, _ := db.AuditEvents(ctx, audit.Filter{OrderID: id})
	if len(evs) != 2 || evs[0].Action != order.EventChannelUpdate || evs[1].Action != order.EventReceived {
		t.Errorf("events = %v, want channel_update then received", evs)
	}
	if s, _ := db.SourceByID(ctx, src.ID); s.LastDeliveryAt.IsZero() {
		t.Errorf("LastDeliveryAt not set after a delivery")
	}
}

func testIngestConcurrent(t *testing.T, db *sqlstore.DB) {
	src := &intake.Source{Channel: "shopify", Name: "main-shop"}
	if err := db.CreateSource(ctx, src, orderEvent("source.created")); err != nil {
		t.Fatal(err)
	}
	for _, delivery := range []string{"same-delivery", ""} {
		t.Run("delivery="+delivery, func(t *testing.T) {
			ext := "4000" + delivery
			const n = 8
			var wg sync.WaitGroup
			var mu sync.Mutex
			created, ids := 0, map[string]bool{}
			var errs []error
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := db.IngestOrder(ctx, ingest(src.ID, sampleOrder(ext), "h", delivery))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					ids[st.Order.ID] = true
					if st.Created {
						created++
					}
				}()
			}
			wg.Wait()
			if len(errs) > 0 || created != 1 || len(ids) != 1 {
				t.Fatalf("%d concurrent deliveries: %d created, %d distinct ids, errors %v; want 1, 1, none", n, created, len(ids), errs)
			}
			if c := countRows(t, db, `SELECT count(*) FROM orders WHERE external_id = '`+ext+`'`); c != 1 {
				t.Errorf("orders stored = %d, want 1", c)
			}
		})
	}
	res, err := chain(t).VerifyStore(ctx, db)
	if err != nil || !res.OK {
		t.Errorf("audit chain after concurrent intake: %+v, %v", res, err)
	}
}
