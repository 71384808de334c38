package sqlstore

import (
	"context"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake"
)

var _ intake.SourceKeeper = (*DB)(nil)

// changeSource runs an UPDATE of one unrevoked source and appends ev, or
// tells ENOTFOUND from ECONFLICT (revoked).
func (tx *Tx) changeSource(ctx context.Context, id, query string, args []any, ev audit.Event) error {
	res, err := tx.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		var revoked bool
		if err := tx.queryRow(ctx, `SELECT revoked FROM sources WHERE id = $1`, id).Scan(&revoked); err != nil {
			return notFound(err, "source")
		}
		return ordergate.Errorf(ordergate.ECONFLICT, "the source is revoked")
	}
	return tx.appendAudit(ctx, ev)
}

// SetSourceSecret replaces an unrevoked source's API key hash or sealed
// webhook secret and appends ev, in one transaction.
func (db *DB) SetSourceSecret(ctx context.Context, id, secretHash string, sealed []byte, ev audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		return tx.changeSource(ctx, id, `UPDATE sources SET secret_hash = $1, sealed_secret = $2 WHERE id = $3 AND revoked = $4`,
			[]any{secretHash, sealed, id, false}, ev)
	})
}

// RevokeSource marks an unrevoked source revoked and appends ev, in one
// transaction.
func (db *DB) RevokeSource(ctx context.Context, id string, ev audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		return tx.changeSource(ctx, id, `UPDATE sources SET revoked = $1 WHERE id = $2 AND revoked = $3`, []any{true, id, false}, ev)
	})
}
