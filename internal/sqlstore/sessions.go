package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

func (tx *Tx) insertSession(ctx context.Context, s *auth.Session) error {
	ac, err := marshalAuth(s.Auth)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO sessions (id, user_id, state, aal, auth, csrf_token, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, s.UserID, string(s.State), int(s.Auth.AAL), ac, s.CSRFToken,
		micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt))
	return err
}

// CreateSession stores s and evs.
func (db *DB) CreateSession(ctx context.Context, s *auth.Session, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.insertSession(ctx, s); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// ReplaceSession removes session oldID and stores s, in one transaction.
// ENOTFOUND when oldID no longer exists (it was used or revoked meanwhile).
func (db *DB) ReplaceSession(ctx context.Context, oldID string, s *auth.Session, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.replaceSession(ctx, oldID, s); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func (tx *Tx) replaceSession(ctx context.Context, oldID string, s *auth.Session) error {
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE id = $1`, oldID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ordergate.Errorf(ordergate.ENOTFOUND, "session not found")
	}
	return tx.insertSession(ctx, s)
}

// UpgradeSession writes up in one transaction: the step spent first, so
// that a step another request spent leaves nothing written. On SQLite,
// concurrent second factors share a commit (batcher), without waiting for
// one another.
func (db *DB) UpgradeSession(ctx context.Context, up auth.SessionUpgrade) error {
	return db.inBatch(ctx, false, func(ctx context.Context, tx *Tx) error {
		if st := up.Step; st != nil {
			fresh, err := tx.useStep(ctx, st.FactorID, st.Step, st.At)
			if err != nil {
				return err
			}
			if !fresh {
				return auth.ErrStepUsed
			}
		}
		if err := tx.replaceSession(ctx, up.OldID, up.Next); err != nil {
			return err
		}
		if up.ThrottleKey != "" {
			if err := tx.resetThrottle(ctx, up.ThrottleKey); err != nil {
				return err
			}
		}
		if l := up.Login; l != nil {
			err := tx.confirmLogin(ctx, l.UserID, l.SessionID, l.UserAgent, l.At)
			if err != nil && ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
				return err
			}
		}
		return tx.appendAudit(ctx, up.Events...)
	})
}

// SessionByID returns the session whose token hashes to id.
func (db *DB) SessionByID(ctx context.Context, id string) (*auth.Session, error) {
	s := &auth.Session{}
	var state, ac string
	var aal int
	var created, seen, expires int64
	err := db.queryRow(ctx, `SELECT id, user_id, state, aal, auth, csrf_token, created_at, last_seen_at, expires_at
		FROM sessions WHERE id = $1`, id).Scan(&s.ID, &s.UserID, &state, &aal, &ac, &s.CSRFToken, &created, &seen, &expires)
	if err != nil {
		return nil, notFound(err, "session")
	}
	if err := json.Unmarshal([]byte(ac), &s.Auth); err != nil {
		return nil, err
	}
	s.State, s.Auth.AAL = auth.State(state), ordergate.AAL(aal)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, nil
}

// TouchSession moves the session's last-seen time.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	return db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, micros(at), id)
		return err
	})
}

// DeleteSession removes one session and appends evs.
func (db *DB) DeleteSession(ctx context.Context, id string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// DeleteUserSessions removes all of a user's sessions but except.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, except string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, except); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func marshalAuth(ac ordergate.AuthContext) (string, error) {
	b, err := json.Marshal(ac)
	return string(b), err
}
