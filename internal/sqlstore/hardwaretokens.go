package sqlstore

import (
	"context"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

var _ auth.TokenStore = (*DB)(nil)

// ImportHardwareTokens stores every token or none.
func (db *DB) ImportHardwareTokens(ctx context.Context, ts []*auth.HardwareToken, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		for _, t := range ts {
			if t.ImportedAt.IsZero() {
				t.ImportedAt = tx.now
			}
			_, err := tx.exec(ctx, `INSERT INTO hardware_tokens (serial, kind, manufacturer, secret, params, counter, imported_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				t.Serial, t.Kind, t.Manufacturer, t.Secret, string(t.Params), t.Counter, micros(t.ImportedAt))
			if db.dialect.IsUniqueViolation(err) {
				return ordergate.Errorf(ordergate.ECONFLICT, "token %s was imported already", t.Serial)
			}
			if err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
}

const tokenQuery = `SELECT t.serial, t.kind, t.manufacturer, t.secret, t.params, t.counter, COALESCE(t.factor_id, ''),
	COALESCE(f.user_id, ''), COALESCE(u.username, ''), t.imported_at, t.assigned_at
	FROM hardware_tokens t LEFT JOIN factors f ON f.id = t.factor_id LEFT JOIN users u ON u.id = f.user_id`

func scanToken(row interface{ Scan(...any) error }) (*auth.HardwareToken, error) {
	t := &auth.HardwareToken{}
	var params string
	var imported, assigned int64
	if err := row.Scan(&t.Serial, &t.Kind, &t.Manufacturer, &t.Secret, &params, &t.Counter, &t.FactorID,
		&t.UserID, &t.Username, &imported, &assigned); err != nil {
		return nil, err
	}
	t.Params, t.ImportedAt, t.AssignedAt = []byte(params), fromMicros(imported), fromMicros(assigned)
	return t, nil
}

// HardwareToken returns the token with serial.
func (db *DB) HardwareToken(ctx context.Context, serial string) (*auth.HardwareToken, error) {
	t, err := scanToken(db.queryRow(ctx, tokenQuery+` WHERE t.serial = $1`, serial))
	if err != nil {
		return nil, notFound(err, "token")
	}
	return t, nil
}

// HardwareTokens lists every token by serial.
func (db *DB) HardwareTokens(ctx context.Context) ([]*auth.HardwareToken, error) {
	return queryAll(ctx, db, scanToken, tokenQuery+` ORDER BY t.serial`)
}

// AssignHardwareToken stores f and links the token to it, unless the token
// is assigned already: the conditional UPDATE decides between two
// administrators assigning the same token at once.
func (db *DB) AssignHardwareToken(ctx context.Context, serial string, f *auth.Factor, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if f.CreatedAt.IsZero() {
			f.CreatedAt = tx.now
		}
		var n int
		err := tx.queryRow(ctx, `SELECT count(*) FROM hardware_tokens WHERE serial = $1`, serial).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "token not found")
		}
		if _, err := tx.exec(ctx, `INSERT INTO factors (id, user_id, type, name, secret, params, confirmed, last_used_step, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)`,
			f.ID, f.UserID, f.Type, f.Name, f.Secret, string(f.Params), f.Confirmed, f.LastUsedStep, micros(f.CreatedAt)); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE hardware_tokens SET factor_id = $1, assigned_at = $2 WHERE serial = $3 AND factor_id IS NULL`,
			f.ID, micros(tx.now), serial)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ECONFLICT, "token %s is assigned already", serial)
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// AllHardwareTokenSecrets calls fn with every token's sealed seed, for key
// rotation.
func (db *DB) AllHardwareTokenSecrets(ctx context.Context, fn func(serial string, sealed []byte) error) error {
	type row struct {
		serial string
		sealed []byte
	}
	// Read them all first: fn writes, and SQLite's one writer must not
	// wait on a read still open.
	all, err := queryAll(ctx, db, func(rs interface{ Scan(...any) error }) (r row, err error) {
		return r, rs.Scan(&r.serial, &r.sealed)
	}, `SELECT serial, secret FROM hardware_tokens ORDER BY serial`)
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := fn(r.serial, r.sealed); err != nil {
			return err
		}
	}
	return nil
}

// UpdateHardwareTokenSecret replaces a token's sealed seed.
func (db *DB) UpdateHardwareTokenSecret(ctx context.Context, serial string, sealed []byte) error {
	return db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE hardware_tokens SET secret = $1 WHERE serial = $2`, sealed, serial)
		return err
	})
}
