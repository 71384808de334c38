package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ordergate/ordergate/internal/audit"
)

var _ audit.Reader = (*DB)(nil)

// appendAudit links evs to the chain inside tx. The head row is updated
// first, which takes its lock, so concurrent writers (even in several
// processes) append one after the other without gaps.
//
// With a single writing connection (SQLite), the head this process
// wrote last is kept: when the row still holds it, one UPDATE
// conditioned on it takes the lock and moves the head. Its MAC is in the
// condition, so an append never links to a head that another process,
// or a transaction rolled back, left otherwise; then the head is read
// under its lock first. (PostgreSQL's concurrent transactions would
// mostly find the head moved by the one before them, and pay for a
// conditional UPDATE that changes nothing.)
func (tx *Tx) appendAudit(ctx context.Context, evs ...audit.Event) error {
	for _, e := range evs {
		if e.At.IsZero() {
			e.At = tx.now
		}
		r, err := tx.linkAtHead(ctx, &e)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO audit_events (seq, at, action, actor_id, subject_id, order_id, body, prev_mac, mac)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.Seq, micros(r.At), r.Action, r.ActorID, r.SubjectID, r.OrderID, string(r.Body), r.PrevMAC, r.MAC); err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
		tx.db.head.set(audit.Head{Seq: r.Seq, MAC: r.MAC})
	}
	return nil
}

// linkAtHead links e after the chain's head and moves the head to it.
func (tx *Tx) linkAtHead(ctx context.Context, e *audit.Event) (audit.Record, error) {
	if h, ok := tx.db.head.get(); ok {
		e.Seq = h.Seq + 1
		r, err := tx.db.chain.Link(e, h.MAC)
		if err != nil {
			return r, err
		}
		res, err := tx.exec(ctx, `UPDATE audit_head SET seq = $1, mac = $2 WHERE id = 1 AND seq = $3 AND mac = $4`,
			r.Seq, r.MAC, h.Seq, h.MAC)
		if err != nil {
			return r, fmt.Errorf("audit head: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return r, err
		}
	}
	var prev string
	if err := tx.queryRow(ctx, `UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, mac`).Scan(&e.Seq, &prev); err != nil {
		return audit.Record{}, fmt.Errorf("audit head: %w", err)
	}
	r, err := tx.db.chain.Link(e, prev)
	if err != nil {
		return r, err
	}
	if _, err := tx.exec(ctx, `UPDATE audit_head SET mac = $1 WHERE id = 1`, r.MAC); err != nil {
		return r, fmt.Errorf("audit head: %w", err)
	}
	return r, nil
}

// headCache is the audit head as this process last wrote it. A nil
// cache keeps nothing.
type headCache struct {
	mu   sync.Mutex
	head audit.Head
	ok   bool
}

func (c *headCache) get() (audit.Head, bool) {
	if c == nil {
		return audit.Head{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head, c.ok
}

func (c *headCache) set(h audit.Head) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.head, c.ok = h, true
	c.mu.Unlock()
}

// AppendAudit appends events to the audit chain in one transaction.
func (db *DB) AppendAudit(ctx context.Context, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error { return tx.appendAudit(ctx, evs...) })
}

// AuditHead returns the chain's head.
func (db *DB) AuditHead(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := db.queryRow(ctx, `SELECT seq, mac FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.MAC)
	return h, err
}

// AuditRecords calls fn for each stored record with sequence number above
// after, in order, while fn returns true.
func (db *DB) AuditRecords(ctx context.Context, after int64, fn func(audit.Record) bool) error {
	const page = 1000
	for {
		rows, err := db.query(ctx, `SELECT seq, at, action, actor_id, subject_id, order_id, body, prev_mac, mac
			FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, page)
		if err != nil {
			return err
		}
		n := 0
		stop := false
		for rows.Next() {
			var r audit.Record
			var at int64
			var body string
			if err := rows.Scan(&r.Seq, &at, &r.Action, &r.ActorID, &r.SubjectID, &r.OrderID, &body, &r.PrevMAC, &r.MAC); err != nil {
				rows.Close()
				return err
			}
			r.At, r.Body = fromMicros(at), []byte(body)
			after, n = r.Seq, n+1
			if !fn(r) {
				stop = true
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if stop || n < page {
			return nil
		}
	}
}

// AuditEvents returns up to limit events matching f, newest first.
func (db *DB) AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	// The repeated "<> ''" lets the planner use the partial indexes.
	if f.SubjectID != "" {
		add("subject_id = $%d AND subject_id <> ''", f.SubjectID)
	}
	if f.OrderID != "" {
		add("order_id = $%d AND order_id <> ''", f.OrderID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", micros(f.Since))
	}
	if f.Before > 0 {
		add("seq < $%d", f.Before)
	}
	q := `SELECT seq, at, action, actor_id, subject_id, order_id, body, prev_mac, mac FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY seq DESC LIMIT $%d", len(args))
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var r audit.Record
		var at int64
		var body string
		if err := rows.Scan(&r.Seq, &at, &r.Action, &r.ActorID, &r.SubjectID, &r.OrderID, &body, &r.PrevMAC, &r.MAC); err != nil {
			return nil, err
		}
		r.At, r.Body = fromMicros(at), []byte(body)
		e, err := r.Decode()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
