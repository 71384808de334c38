package sqlstore

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

var _ auth.WebAuthnStore = (*DB)(nil)

func credentialKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// CreateWebAuthnFactor stores a confirmed webauthn factor and its
// credential index entry in one transaction.
func (db *DB) CreateWebAuthnFactor(ctx context.Context, f *auth.Factor, c *auth.WebAuthnCredential, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if f.ID == "" {
			f.ID = newID("fac")
		}
		if f.CreatedAt.IsZero() {
			f.CreatedAt = tx.now
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT count(*) FROM webauthn_credentials WHERE credential_id = $1`,
			credentialKey(c.CredentialID)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ordergate.Errorf(ordergate.ECONFLICT, "this security key is registered already")
		}
		if _, err := tx.exec(ctx, `INSERT INTO factors (id, user_id, type, name, secret, params, confirmed, last_used_step, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, NULL, $5, $6, 0, $7, 0)`,
			f.ID, f.UserID, f.Type, f.Name, string(f.Params), f.Confirmed, micros(f.CreatedAt)); err != nil {
			return err
		}
		c.FactorID, c.UserID = f.ID, f.UserID
		if _, err := tx.exec(ctx, `INSERT INTO webauthn_credentials (factor_id, user_id, credential_id, sign_count, clone_suspected)
			VALUES ($1, $2, $3, $4, $5)`, f.ID, f.UserID, credentialKey(c.CredentialID), int64(c.SignCount), false); err != nil {
			if db.dialect.IsUniqueViolation(err) {
				return ordergate.Errorf(ordergate.ECONFLICT, "this security key is registered already")
			}
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

const credentialColumns = `factor_id, user_id, credential_id, sign_count, clone_suspected`

func scanCredential(row interface{ Scan(...any) error }) (auth.WebAuthnCredential, error) {
	var c auth.WebAuthnCredential
	var id string
	var count int64
	if err := row.Scan(&c.FactorID, &c.UserID, &id, &count, &c.CloneSuspected); err != nil {
		return c, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	c.CredentialID, c.SignCount = raw, uint32(count)
	return c, err
}

// WebAuthnCredentials returns a user's credential index entries.
func (db *DB) WebAuthnCredentials(ctx context.Context, userID string) ([]auth.WebAuthnCredential, error) {
	rows, err := db.query(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials WHERE user_id = $1 ORDER BY factor_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.WebAuthnCredential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WebAuthnCredentialByID finds a credential by its ID.
func (db *DB) WebAuthnCredentialByID(ctx context.Context, credentialID []byte) (*auth.WebAuthnCredential, error) {
	c, err := scanCredential(db.queryRow(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials WHERE credential_id = $1`,
		credentialKey(credentialID)))
	if err != nil {
		return nil, notFound(err, "credential")
	}
	return &c, nil
}

// UseWebAuthnCredential moves the counter forward when it may; the
// condition in the UPDATE makes it atomic across processes.
func (db *DB) UseWebAuthnCredential(ctx context.Context, factorID string, count uint32, at time.Time, evs ...audit.Event) (bool, error) {
	var ok bool
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE webauthn_credentials SET sign_count = $1
			WHERE factor_id = $2 AND clone_suspected = $3 AND (sign_count < $1 OR (sign_count = 0 AND $4 = 0))`,
			int64(count), factorID, false, int64(count))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		ok = true
		if _, err := tx.exec(ctx, `UPDATE factors SET last_used_at = $1 WHERE id = $2`, micros(at), factorID); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
	return ok, err
}

// FlagWebAuthnClone marks a credential as possibly cloned.
func (db *DB) FlagWebAuthnClone(ctx context.Context, factorID string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE webauthn_credentials SET clone_suspected = $1 WHERE factor_id = $2`, true, factorID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "credential not found")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// SaveCeremony stores a begun ceremony and forgets expired ones.
func (db *DB) SaveCeremony(ctx context.Context, c *auth.Ceremony) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at < $1`, micros(tx.now)); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO webauthn_ceremonies (id, kind, session_id, user_id, data, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, c.ID, c.Kind, c.SessionID, c.UserID, string(c.Data), micros(c.ExpiresAt))
		if db.dialect.IsUniqueViolation(err) {
			return ordergate.Errorf(ordergate.ECONFLICT, "ceremony exists")
		}
		return err
	})
}

// TakeCeremony deletes and returns a ceremony; the DELETE … RETURNING
// makes it single-use across processes.
func (db *DB) TakeCeremony(ctx context.Context, id, kind, sessionID string, now time.Time) (*auth.Ceremony, error) {
	var c auth.Ceremony
	err := db.inTx(ctx, func(tx *Tx) error {
		var data string
		var expires int64
		err := tx.queryRow(ctx, `DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 AND session_id = $3
			RETURNING id, kind, session_id, user_id, data, expires_at`, id, kind, sessionID).
			Scan(&c.ID, &c.Kind, &c.SessionID, &c.UserID, &data, &expires)
		if err != nil {
			return notFound(err, "ceremony")
		}
		c.Data, c.ExpiresAt = []byte(data), fromMicros(expires)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !now.Before(c.ExpiresAt) {
		return nil, ordergate.Errorf(ordergate.ENOTFOUND, "ceremony expired")
	}
	return &c, nil
}
