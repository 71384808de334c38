package sqlstore

import (
	"context"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake"
)

var _ intake.Store = (*DB)(nil)

const sourceColumns = `id, channel, name, secret_hash, sealed_secret, created_at, last_delivery_at, error_count, revoked`

func scanSource(row interface{ Scan(...any) error }) (*intake.Source, error) {
	s := &intake.Source{}
	var created, last int64
	if err := row.Scan(&s.ID, &s.Channel, &s.Name, &s.SecretHash, &s.SealedSecret, &created, &last, &s.ErrorCount, &s.Revoked); err != nil {
		return nil, err
	}
	s.CreatedAt, s.LastDeliveryAt = fromMicros(created), fromMicros(last)
	return s, nil
}

// CreateSource stores src (its ID set by the caller, which seals the
// webhook secret with it) and ev. ECONFLICT when the name is taken.
func (db *DB) CreateSource(ctx context.Context, src *intake.Source, ev audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if src.ID == "" {
			src.ID = newID("src")
		}
		if src.CreatedAt.IsZero() {
			src.CreatedAt = tx.now
		}
		_, err := tx.exec(ctx, `INSERT INTO sources (id, channel, name, secret_hash, sealed_secret, created_at, last_delivery_at, error_count, revoked)
			VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7)`,
			src.ID, src.Channel, src.Name, src.SecretHash, src.SealedSecret, micros(src.CreatedAt), src.Revoked)
		if err != nil {
			if db.dialect.IsUniqueViolation(err) {
				return ordergate.FieldError(ordergate.ECONFLICT, "name", "a source with this name exists")
			}
			return err
		}
		return tx.appendAudit(ctx, ev)
	})
}

// SourceByID returns the source with that ID.
func (db *DB) SourceByID(ctx context.Context, id string) (*intake.Source, error) {
	s, err := scanSource(db.queryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "source")
	}
	return s, nil
}

// SourcesByChannel returns the channel's sources that are not revoked,
// by name.
func (db *DB) SourcesByChannel(ctx context.Context, channel string) ([]*intake.Source, error) {
	return queryAll(ctx, db, scanSource, `SELECT `+sourceColumns+` FROM sources WHERE channel = $1 AND revoked = $2 ORDER BY name`, channel, false)
}

// RecordIntakeFailure counts a refused delivery against the source and
// appends ev, in one transaction.
func (db *DB) RecordIntakeFailure(ctx context.Context, sourceID string, ev audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if sourceID != "" {
			if _, err := tx.exec(ctx, `UPDATE sources SET error_count = error_count + 1 WHERE id = $1`, sourceID); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}
