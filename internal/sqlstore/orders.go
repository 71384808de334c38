package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
)

var _ order.Store = (*DB)(nil)

const orderColumns = `id, status, doc, raw_payload_id, created_by, modified_by, created_at, version`

// orderRow is an order as read, with its optimistic-lock version.
type orderRow struct {
	o       *order.Order
	version int64
}

func scanOrder(row interface{ Scan(...any) error }) (orderRow, error) {
	var doc, status string
	var created int64
	r := orderRow{o: &order.Order{}}
	var id, raw, by, modBy string
	if err := row.Scan(&id, &status, &doc, &raw, &by, &modBy, &created, &r.version); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(doc), r.o); err != nil {
		return r, fmt.Errorf("decode order %s: %w", id, err)
	}
	// The columns hold what the document may lack (see insertOrder).
	r.o.ID, r.o.Status, r.o.RawPayloadID = id, order.Status(status), raw
	r.o.CreatedBy, r.o.ModifiedBy, r.o.CreatedAt = by, modBy, fromMicros(created)
	if r.o.Warnings == nil {
		r.o.Warnings = []order.Warning{}
	}
	return r, nil
}

// document is the JSON kept in the doc column: the canonical order
// without what has columns or tables of its own.
func document(o *order.Order) (string, error) {
	c := *o
	c.Approvals = nil
	b, err := json.Marshal(&c)
	return string(b), err
}

// insertOrder inserts o unless an order with its channel, source and
// external id exists, and reports whether it did. ON CONFLICT DO NOTHING
// keeps the unique constraint the judge: on PostgreSQL a racing insert
// waits for the other transaction and then finds its row. doc, when not
// nil, is o encoded before its ID, raw payload and creation time were
// set (intake.Ingest.Doc): those have columns, which scanOrder reads.
func (tx *Tx) insertOrder(ctx context.Context, o *order.Order, hash string, doc []byte) (bool, error) {
	if doc == nil {
		d, err := document(o)
		if err != nil {
			return false, err
		}
		doc = []byte(d)
	}
	res, err := tx.exec(ctx, `INSERT INTO orders (id, channel, source, external_id, number, status, currency, total,
		customer_name, customer_email, placed_at, doc, content_hash, raw_payload_id, created_by, modified_by, created_at, updated_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1)
		ON CONFLICT DO NOTHING`,
		o.ID, o.Channel, o.Source, o.ExternalID, o.Number, string(o.Status), o.Currency, o.Total,
		o.Customer.Name, o.Customer.Email, micros(o.PlacedAt), string(doc), hash, o.RawPayloadID,
		o.CreatedBy, o.ModifiedBy, micros(o.CreatedAt), micros(tx.now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CreateOrder stores o with a new ID and ev. ECONFLICT when an order with
// the same channel, source and external id exists.
func (db *DB) CreateOrder(ctx context.Context, o *order.Order, ev audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		id := newSortedID("ord", tx.now)
		prev := o.ID
		o.ID = id
		if o.ExternalID == "" {
			o.ExternalID = id
		}
		if o.Number == "" {
			o.Number = o.ExternalID
		}
		if o.CreatedAt.IsZero() {
			o.CreatedAt = tx.now
		}
		ok, err := tx.insertOrder(ctx, o, "", nil)
		if err != nil {
			o.ID = prev
			return err
		}
		if !ok {
			o.ID = prev
			return ordergate.FieldError(ordergate.ECONFLICT, "external_id", "an order with this external id exists")
		}
		ev.OrderID = o.ID
		return tx.appendAudit(ctx, ev)
	})
}

// OrderByID returns the order with that ID and its approvals.
func (db *DB) OrderByID(ctx context.Context, id string) (*order.Order, error) {
	r, err := scanOrder(db.queryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "order")
	}
	rows, err := db.query(ctx, `SELECT user_id, user_name, at, evidence FROM approvals WHERE order_id = $1 ORDER BY at, user_id`, id)
	if err != nil {
		return nil, err
	}
	if r.o.Approvals, err = scanApprovals(rows); err != nil {
		return nil, err
	}
	return r.o, nil
}

func scanApprovals(rows *sql.Rows) ([]order.Approval, error) {
	defer rows.Close()
	var out []order.Approval
	for rows.Next() {
		var a order.Approval
		var at int64
		var ev string
		if err := rows.Scan(&a.UserID, &a.UserName, &at, &ev); err != nil {
			return nil, err
		}
		a.At = fromMicros(at)
		if err := json.Unmarshal([]byte(ev), &a.Evidence); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ListOrders returns a page of orders matching f, newest first.
func (db *DB) ListOrders(ctx context.Context, f order.Filter) ([]*order.Order, string, error) {
	var where []string
	var args []any
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+bind(string(f.Status)))
	}
	if f.Channel != "" {
		where = append(where, "channel = "+bind(f.Channel))
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		p := bind("%" + likeEscape(strings.ToLower(q)) + "%")
		where = append(where, fmt.Sprintf(`(lower(number) LIKE %[1]s ESCAPE '\' OR lower(external_id) LIKE %[1]s ESCAPE '\'
			OR lower(customer_name) LIKE %[1]s ESCAPE '\' OR lower(customer_email) LIKE %[1]s ESCAPE '\')`, p))
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= "+bind(micros(f.Since)))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		a, i := bind(at), bind(id)
		where = append(where, fmt.Sprintf("(created_at < %s OR (created_at = %s AND id < %s))", a, a, i))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT " + bind(limit+1)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*order.Order
	for rows.Next() {
		r, err := scanOrder(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r.o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(micros(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + ":" + id))
}

func decodeCursor(c string) (int64, string, error) {
	bad := ordergate.FieldError(ordergate.EINVALID, "cursor", "not a cursor this server gave")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad
	}
	at, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", bad
	}
	return n, id, nil
}

// readOrder reads an order and its approvals inside tx.
func (tx *Tx) readOrder(ctx context.Context, where string, args ...any) (orderRow, error) {
	r, err := scanOrder(tx.queryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+where, args...))
	if err != nil {
		return r, notFound(err, "order")
	}
	rows, err := tx.query(ctx, `SELECT user_id, user_name, at, evidence FROM approvals WHERE order_id = $1 ORDER BY at, user_id`, r.o.ID)
	if err != nil {
		return r, err
	}
	r.o.Approvals, err = scanApprovals(rows)
	return r, err
}

// writeOrder stores o over the row read at version, adds the approvals
// beyond the first known ones, and fails with ECONFLICT when another
// transaction changed the row meanwhile.
func (tx *Tx) writeOrder(ctx context.Context, o *order.Order, version int64, known int, hash *string) error {
	doc, err := document(o)
	if err != nil {
		return err
	}
	q := `UPDATE orders SET number = $1, status = $2, currency = $3, total = $4, customer_name = $5, customer_email = $6,
		placed_at = $7, doc = $8, raw_payload_id = $9, modified_by = $10, updated_at = $11, version = version + 1`
	args := []any{o.Number, string(o.Status), o.Currency, o.Total, o.Customer.Name, o.Customer.Email,
		micros(o.PlacedAt), doc, o.RawPayloadID, o.ModifiedBy, micros(tx.now)}
	if hash != nil {
		args = append(args, *hash)
		q += `, content_hash = $` + strconv.Itoa(len(args))
	}
	args = append(args, o.ID, version)
	q += ` WHERE id = $` + strconv.Itoa(len(args)-1) + ` AND version = $` + strconv.Itoa(len(args))
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return ordergate.Errorf(ordergate.ECONFLICT, "the order changed meanwhile; try again")
	}
	for _, a := range o.Approvals[min(known, len(o.Approvals)):] {
		ev, err := json.Marshal(a.Evidence)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO approvals (order_id, user_id, user_name, at, evidence) VALUES ($1, $2, $3, $4, $5)`,
			o.ID, a.UserID, a.UserName, micros(a.At), string(ev)); err != nil {
			if tx.db.dialect.IsUniqueViolation(err) {
				return ordergate.Errorf(ordergate.ECONFLICT, "you have already approved this order")
			}
			return err
		}
	}
	return nil
}

// UpdateOrder reads the order, lets change modify it, and stores the
// result with the event change returns, in one transaction.
func (db *DB) UpdateOrder(ctx context.Context, id string, change func(o *order.Order) (audit.Event, error)) (*order.Order, error) {
	var out *order.Order
	err := db.inTx(ctx, func(tx *Tx) error {
		r, err := tx.readOrder(ctx, `id = $1`, id)
		if err != nil {
			return err
		}
		if err := tx.changeOrder(ctx, r, change); err != nil {
			return err
		}
		out = r.o
		return nil
	})
	return out, err
}

// changeOrder lets change modify the order read as r, stores it and
// appends the event change returns.
func (tx *Tx) changeOrder(ctx context.Context, r orderRow, change func(o *order.Order) (audit.Event, error)) error {
	known := len(r.o.Approvals)
	ev, err := change(r.o)
	if err != nil {
		return err
	}
	if err := tx.writeOrder(ctx, r.o, r.version, known, nil); err != nil {
		return err
	}
	ev.OrderID = r.o.ID
	return tx.appendAudit(ctx, ev)
}

// saveRaw stores raw once: a second call with the same ID, or a delivery
// id the source already sent, stores nothing, and raw.ID names the row.
func (tx *Tx) saveRaw(ctx context.Context, raw *intake.Raw) error {
	if raw.ID == "" {
		raw.ID = newSortedID("raw", tx.now)
	}
	var delivery any
	if raw.DeliveryID != "" {
		delivery = raw.DeliveryID
	}
	if raw.ReceivedAt.IsZero() {
		raw.ReceivedAt = tx.now
	}
	body := raw.Body
	if body == nil {
		body = []byte{} // a chunked payload's row, stored already
	}
	res, err := tx.exec(ctx, `INSERT INTO raw_payloads (id, source_id, delivery_id, content_type, body, received_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		raw.ID, raw.SourceID, delivery, raw.ContentType, body, micros(raw.ReceivedAt))
	if err != nil {
		return fmt.Errorf("store raw payload: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 || delivery == nil {
		return nil
	}
	var id string
	err = tx.queryRow(ctx, `SELECT id FROM raw_payloads WHERE id = $1 OR (source_id = $2 AND delivery_id = $3)`,
		raw.ID, raw.SourceID, raw.DeliveryID).Scan(&id)
	if err != nil {
		return fmt.Errorf("find raw payload: %w", err)
	}
	raw.ID = id
	return nil
}

// IngestOrder takes in one delivered order with its raw payload and audit
// event in one transaction. Concurrent deliveries of the same order
// (channel, source, external id) yield one row: the unique constraint
// decides, and the loser reads the winner's order as a duplicate. On
// SQLite, concurrent deliveries share a transaction (batcher), which may
// run an order again after another failed: each attempt gives the order a
// new id, and the raw payload keeps the id it came with. When it fails,
// in.Order may keep the id and times of the failed attempt.
func (db *DB) IngestOrder(ctx context.Context, in intake.Ingest) (intake.Stored, error) {
	var st intake.Stored
	rawID := in.Raw.ID
	err := db.inBatch(ctx, true, func(ctx context.Context, tx *Tx) (err error) {
		in.Raw.ID = rawID
		st, err = tx.ingest(ctx, in)
		return err
	})
	if err != nil {
		st, in.Raw.ID = intake.Stored{}, rawID
	}
	return st, err
}

// ingest is IngestOrder inside tx.
func (tx *Tx) ingest(ctx context.Context, in intake.Ingest) (intake.Stored, error) {
	var st intake.Stored
	err := func() error {
		o := in.Order
		key := []any{o.Channel, o.Source, o.ExternalID}
		var hash string
		err := tx.queryRow(ctx, `SELECT content_hash FROM orders WHERE channel = $1 AND source = $2 AND external_id = $3`, key...).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) {
			o.ID = newSortedID("ord", tx.now)
			if o.CreatedAt.IsZero() {
				o.CreatedAt = tx.now
			}
			if err := tx.saveRaw(ctx, in.Raw); err != nil {
				return err
			}
			o.RawPayloadID = in.Raw.ID
			created, err := tx.insertOrder(ctx, o, in.Hash, in.Doc)
			if err != nil {
				return err
			}
			if created {
				st.Order, st.Created = o, true
				ev := in.Received
				ev.OrderID = o.ID
				if err := tx.touchSource(ctx, in.Raw.SourceID); err != nil {
					return err
				}
				return tx.appendAudit(ctx, ev)
			}
			// Another delivery of the same order committed first.
			o.ID = ""
			if err := tx.queryRow(ctx, `SELECT content_hash FROM orders WHERE channel = $1 AND source = $2 AND external_id = $3`, key...).Scan(&hash); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		r, err := tx.readOrder(ctx, `channel = $1 AND source = $2 AND external_id = $3`, key...)
		if err != nil {
			return err
		}
		st.Order = r.o
		if hash == in.Hash || in.Update == nil {
			return nil
		}
		if err := tx.saveRaw(ctx, in.Raw); err != nil {
			return err
		}
		ev, err := in.Update(r.o)
		if err != nil {
			return err
		}
		r.o.RawPayloadID = in.Raw.ID
		if err := tx.writeOrder(ctx, r.o, r.version, len(r.o.Approvals), &in.Hash); err != nil {
			return err
		}
		st.Updated = true
		ev.OrderID = r.o.ID
		if err := tx.touchSource(ctx, in.Raw.SourceID); err != nil {
			return err
		}
		return tx.appendAudit(ctx, ev)
	}()
	return st, err
}

// touchSource records a delivery of source id at the transaction's time,
// once per transaction: a batch of its orders sets the same time.
func (tx *Tx) touchSource(ctx context.Context, id string) error {
	if slices.Contains(tx.touched, id) {
		return nil
	}
	if _, err := tx.exec(ctx, `UPDATE sources SET last_delivery_at = $1 WHERE id = $2`, micros(tx.now), id); err != nil {
		return err
	}
	tx.touched = append(tx.touched, id)
	return nil
}
