package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/order"
)

var _ order.GrantStore = (*DB)(nil)

// CreateGrant stores the step-up grant g and ev in one transaction.
func (db *DB) CreateGrant(ctx context.Context, g *order.Grant, ev audit.Event) error {
	evidence := g.Evidence
	if evidence == nil {
		evidence = map[string]any{}
	}
	b, err := json.Marshal(evidence)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if g.CreatedAt.IsZero() {
			g.CreatedAt = tx.now
		}
		if _, err := tx.exec(ctx, `INSERT INTO step_up_grants (id, session_id, user_id, action, order_id, digest, method, evidence,
			created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)`,
			g.ID, g.SessionID, g.UserID, g.Action, g.OrderID, g.Digest, g.Method, string(b),
			micros(g.CreatedAt), micros(g.ExpiresAt)); err != nil {
			return err
		}
		return tx.appendAudit(ctx, ev)
	})
}

const grantColumns = `id, session_id, user_id, action, order_id, digest, method, evidence, created_at, expires_at, used_at`

// GrantByID returns the step-up grant with that ID.
func (db *DB) GrantByID(ctx context.Context, id string) (*order.Grant, error) {
	return scanGrant(db.queryRow(ctx, `SELECT `+grantColumns+` FROM step_up_grants WHERE id = $1`, id))
}

// LatestGrant returns the session's newest unused grant for action on the
// order.
func (db *DB) LatestGrant(ctx context.Context, sessionID, action, orderID string) (*order.Grant, error) {
	return scanGrant(db.queryRow(ctx, `SELECT `+grantColumns+` FROM step_up_grants
		WHERE session_id = $1 AND action = $2 AND order_id = $3 AND used_at = 0
		ORDER BY created_at DESC, id DESC LIMIT 1`, sessionID, action, orderID))
}

func scanGrant(row *sql.Row) (*order.Grant, error) {
	g := &order.Grant{}
	var evidence string
	var created, expires, used int64
	err := row.Scan(&g.ID, &g.SessionID, &g.UserID, &g.Action, &g.OrderID, &g.Digest,
		&g.Method, &evidence, &created, &expires, &used)
	if err != nil {
		return nil, notFound(err, "step-up grant")
	}
	g.CreatedAt, g.ExpiresAt, g.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	if err := json.Unmarshal([]byte(evidence), &g.Evidence); err != nil {
		return nil, err
	}
	return g, nil
}

// UpdateOrderConsumingGrant is UpdateOrder that also marks the grant used,
// in the same transaction, by a conditional UPDATE: only an unused,
// unexpired grant for this action on the order as read (its digest) is
// consumed; otherwise ESTEPUP and nothing is written.
func (db *DB) UpdateOrderConsumingGrant(ctx context.Context, id, grantID, action string, change func(o *order.Order) (audit.Event, error)) (*order.Order, error) {
	var out *order.Order
	err := db.inTx(ctx, func(tx *Tx) error {
		r, err := tx.readOrder(ctx, `id = $1`, id)
		if err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE step_up_grants SET used_at = $1
			WHERE id = $2 AND used_at = 0 AND expires_at >= $1 AND action = $3 AND order_id = $4 AND digest = $5`,
			micros(tx.now), grantID, action, r.o.ID, order.Digest(r.o))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ordergate.Errorf(ordergate.ESTEPUP, "this step-up was used already or has expired; prove a second factor again")
		}
		if err := tx.changeOrder(ctx, r, change); err != nil {
			return err
		}
		out = r.o
		return nil
	})
	return out, err
}
