package sqlstore

import (
	"context"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

// CreateFactor stores f, keeping its ID when the caller set one (the ID is
// bound into the sealed secret).
func (db *DB) CreateFactor(ctx context.Context, f *auth.Factor, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if f.ID == "" {
			f.ID = newID("fac")
		}
		if f.CreatedAt.IsZero() {
			f.CreatedAt = tx.now
		}
		// Unconfirmed factors older than an hour are abandoned enrollments.
		if _, err := tx.exec(ctx, `DELETE FROM factors WHERE user_id = $1 AND confirmed = $2 AND created_at < $3`,
			f.UserID, false, micros(tx.now.Add(-time.Hour))); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO factors (id, user_id, type, name, secret, params, confirmed, last_used_step, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, 0)`,
			f.ID, f.UserID, f.Type, f.Name, f.Secret, string(f.Params), f.Confirmed, micros(f.CreatedAt))
		if err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

const factorColumns = `id, user_id, type, name, secret, params, confirmed, last_used_step, created_at, last_used_at`

func scanFactor(row interface{ Scan(...any) error }) (*auth.Factor, error) {
	f := &auth.Factor{}
	var params string
	var created, used int64
	if err := row.Scan(&f.ID, &f.UserID, &f.Type, &f.Name, &f.Secret, &params, &f.Confirmed, &f.LastUsedStep, &created, &used); err != nil {
		return nil, err
	}
	f.Params, f.CreatedAt, f.LastUsedAt = []byte(params), fromMicros(created), fromMicros(used)
	return f, nil
}

// Factor returns one of a user's factors.
func (db *DB) Factor(ctx context.Context, userID, id string) (*auth.Factor, error) {
	f, err := scanFactor(db.queryRow(ctx, `SELECT `+factorColumns+` FROM factors WHERE id = $1 AND user_id = $2`, id, userID))
	if err != nil {
		return nil, notFound(err, "factor")
	}
	return f, nil
}

// Factors lists a user's factors, oldest first.
func (db *DB) Factors(ctx context.Context, userID string) ([]*auth.Factor, error) {
	return queryAll(ctx, db, scanFactor, `SELECT `+factorColumns+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// ConfirmFactor marks a factor confirmed, once.
func (db *DB) ConfirmFactor(ctx context.Context, id string, step int64, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE factors SET confirmed = $1, last_used_step = $2, last_used_at = $3
			WHERE id = $4 AND confirmed = $5`, true, step, micros(tx.now), id, false)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ECONFLICT, "factor already confirmed")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// UseTOTPStep records step as used when it is newer than the last one; the
// condition in the UPDATE makes it atomic across processes.
func (db *DB) UseTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	var ok bool
	err := db.inTx(ctx, func(tx *Tx) (err error) {
		ok, err = tx.useStep(ctx, id, step, at)
		return err
	})
	return ok, err
}

func (tx *Tx) useStep(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	res, err := tx.exec(ctx, `UPDATE factors SET last_used_step = $1, last_used_at = $2
		WHERE id = $3 AND confirmed = $4 AND last_used_step < $1`, step, micros(at), id, true)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RenameFactor sets a factor's name.
func (db *DB) RenameFactor(ctx context.Context, userID, id, name string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE factors SET name = $1 WHERE id = $2 AND user_id = $3`, name, id, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "factor not found")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// DeleteFactor removes a user's factor.
func (db *DB) DeleteFactor(ctx context.Context, userID, id string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM factors WHERE id = $1 AND user_id = $2`, id, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "factor not found")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// UpdateFactorSecret replaces a factor's sealed secret.
func (db *DB) UpdateFactorSecret(ctx context.Context, id string, sealed []byte) error {
	return db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE factors SET secret = $1 WHERE id = $2`, sealed, id)
		return err
	})
}

// AllFactorSecrets calls fn with every factor's sealed secret.
func (db *DB) AllFactorSecrets(ctx context.Context, fn func(id, typ string, sealed []byte) error) error {
	type row struct {
		id, typ string
		sealed  []byte
	}
	// Read them all first: fn writes, and SQLite's one writer must not
	// wait on a read still open.
	all, err := queryAll(ctx, db, func(rs interface{ Scan(...any) error }) (r row, err error) {
		return r, rs.Scan(&r.id, &r.typ, &r.sealed)
	}, `SELECT id, type, secret FROM factors WHERE secret IS NOT NULL ORDER BY id`)
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := fn(r.id, r.typ, r.sealed); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceBackupCodes swaps a user's backup codes for codes.
func (db *DB) ReplaceBackupCodes(ctx context.Context, userID string, codes []auth.BackupCode, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM backup_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for _, c := range codes {
			if _, err := tx.exec(ctx, `INSERT INTO backup_codes (id, user_id, lookup, hash, used_at, created_at) VALUES ($1, $2, $3, $4, 0, $5)`,
				c.ID, userID, c.Lookup, c.Hash, micros(tx.now)); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// BackupCodeCandidates returns a user's codes with that lookup, used or not.
func (db *DB) BackupCodeCandidates(ctx context.Context, userID, lookup string) ([]auth.BackupCode, error) {
	rows, err := db.query(ctx, `SELECT id, user_id, lookup, hash, used_at FROM backup_codes WHERE user_id = $1 AND lookup = $2`, userID, lookup)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.BackupCode
	for rows.Next() {
		var c auth.BackupCode
		var used int64
		if err := rows.Scan(&c.ID, &c.UserID, &c.Lookup, &c.Hash, &used); err != nil {
			return nil, err
		}
		c.UsedAt = fromMicros(used)
		out = append(out, c)
	}
	return out, rows.Err()
}

// UseBackupCode marks a code used, once, and counts those left.
func (db *DB) UseBackupCode(ctx context.Context, id string, at time.Time, evs ...audit.Event) (bool, int, error) {
	var used bool
	var left int
	err := db.inTx(ctx, func(tx *Tx) error {
		var userID string
		if err := tx.queryRow(ctx, `SELECT user_id FROM backup_codes WHERE id = $1`, id).Scan(&userID); err != nil {
			return notFound(err, "backup code")
		}
		res, err := tx.exec(ctx, `UPDATE backup_codes SET used_at = $1 WHERE id = $2 AND used_at = 0`, micros(at), id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if used = n == 1; !used {
			return nil
		}
		if err := tx.queryRow(ctx, `SELECT count(*) FROM backup_codes WHERE user_id = $1 AND used_at = 0`, userID).Scan(&left); err != nil {
			return err
		}
		for i := range evs {
			if evs[i].Data == nil {
				evs[i].Data = map[string]any{}
			}
			evs[i].Data["left"] = left
		}
		return tx.appendAudit(ctx, evs...)
	})
	return used, left, err
}

// BackupCodesLeft counts a user's unused backup codes.
func (db *DB) BackupCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM backup_codes WHERE user_id = $1 AND used_at = 0`, userID).Scan(&n)
	return n, err
}

// UpdateSessionAuth replaces a session's authentication context.
func (db *DB) UpdateSessionAuth(ctx context.Context, s *auth.Session, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		ac, err := marshalAuth(s.Auth)
		if err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE sessions SET auth = $1, aal = $2 WHERE id = $3`, ac, int(s.Auth.AAL), s.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "session not found")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// EnrolledMethods returns, per user ID, the methods of the user's confirmed
// factors: their types, with a hardware HOTP token counted as totp.
func (db *DB) EnrolledMethods(ctx context.Context) (map[string][]string, error) {
	rows, err := db.query(ctx, `SELECT DISTINCT user_id, CASE type WHEN 'hotp' THEN 'totp' ELSE type END AS method
		FROM factors WHERE confirmed = $1 ORDER BY user_id, method`, true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, typ string
		if err := rows.Scan(&id, &typ); err != nil {
			return nil, err
		}
		out[id] = append(out[id], typ)
	}
	return out, rows.Err()
}

// SaveAdoption records today's adoption per role, replacing an earlier
// record of the same day.
func (db *DB) SaveAdoption(ctx context.Context, day string, roles []auth.RoleAdoption) error {
	return db.inTx(ctx, func(tx *Tx) error {
		for _, r := range roles {
			if _, err := tx.exec(ctx, `INSERT INTO adoption_snapshots (day, role, enrolled, total) VALUES ($1, $2, $3, $4)
				ON CONFLICT (day, role) DO UPDATE SET enrolled = excluded.enrolled, total = excluded.total`,
				day, r.Role, r.Enrolled, r.Total); err != nil {
				return err
			}
		}
		return nil
	})
}

// AdoptionHistory returns the recorded adoption per day since day
// (YYYY-MM-DD), oldest first.
func (db *DB) AdoptionHistory(ctx context.Context, since string) ([]auth.AdoptionDay, error) {
	rows, err := db.query(ctx, `SELECT day, role, enrolled, total FROM adoption_snapshots WHERE day >= $1 ORDER BY day, role`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.AdoptionDay
	for rows.Next() {
		var day string
		var r auth.RoleAdoption
		if err := rows.Scan(&day, &r.Role, &r.Enrolled, &r.Total); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Day != day {
			out = append(out, auth.AdoptionDay{Day: day})
		}
		out[len(out)-1].Roles = append(out[len(out)-1].Roles, r)
	}
	return out, rows.Err()
}
