package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

var _ auth.RecoveryStore = (*DB)(nil)

// ReserveSMSCode stores c as reserved unless a send limit is reached. The
// lock rows of the user and the number are updated first, which makes
// concurrent reservations for either wait for each other on both engines.
func (db *DB) ReserveSMSCode(ctx context.Context, c *auth.SMSCode, limits []auth.SendLimit) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if c.ID == "" {
			c.ID = newID("smc")
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = tx.now
		}
		for _, key := range []string{"user:" + c.UserID, "phone:" + c.Phone} {
			if _, err := tx.exec(ctx, `INSERT INTO sms_send_locks (key, sends) VALUES ($1, 1)
				ON CONFLICT (key) DO UPDATE SET sends = sms_send_locks.sends + 1`, key); err != nil {
				return err
			}
		}
		var longest time.Duration
		for _, l := range limits {
			longest = max(longest, l.Window)
		}
		// Rows older than every window count for nothing any more.
		if _, err := tx.exec(ctx, `DELETE FROM sms_codes WHERE created_at < $1`,
			micros(c.CreatedAt.Add(-longest-24*time.Hour))); err != nil {
			return err
		}
		for _, l := range limits {
			since := micros(c.CreatedAt.Add(-l.Window))
			for _, col := range []string{"user_id", "phone"} {
				val := c.UserID
				if col == "phone" {
					val = c.Phone
				}
				var n int
				var oldest int64
				if err := tx.queryRow(ctx, `SELECT count(*), coalesce(min(created_at), 0) FROM sms_codes
					WHERE `+col+` = $1 AND created_at > $2`, val, since).Scan(&n, &oldest); err != nil {
					return err
				}
				if n >= l.Max {
					wait := fromMicros(oldest).Add(l.Window).Sub(c.CreatedAt)
					secs := max(int((wait+time.Second-1)/time.Second), 1)
					return &ordergate.Error{Code: ordergate.ERATELIMIT, RetryAfter: secs,
						Message: "too many codes sent; wait before asking for another or use another method"}
				}
			}
		}
		_, err := tx.exec(ctx, `INSERT INTO sms_codes (id, user_id, purpose, factor_id, phone, hash, state, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)`,
			c.ID, c.UserID, c.Purpose, c.FactorID, c.Phone, c.Hash, auth.SMSReserved, micros(c.CreatedAt), micros(c.ExpiresAt))
		return err
	})
}

// FinishSMSCode settles a reserved code.
func (db *DB) FinishSMSCode(ctx context.Context, id, state string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		var userID, purpose string
		if err := tx.queryRow(ctx, `SELECT user_id, purpose FROM sms_codes WHERE id = $1 AND state = $2`,
			id, auth.SMSReserved).Scan(&userID, &purpose); err != nil {
			return notFound(err, "sms code")
		}
		var err error
		switch state {
		case auth.SMSSent:
			if _, err = tx.exec(ctx, `UPDATE sms_codes SET state = $1 WHERE user_id = $2 AND purpose = $3 AND state = $4`,
				"superseded", userID, purpose, auth.SMSSent); err != nil {
				return err
			}
			_, err = tx.exec(ctx, `UPDATE sms_codes SET state = $1 WHERE id = $2`, auth.SMSSent, id)
		case auth.SMSRefused:
			_, err = tx.exec(ctx, `UPDATE sms_codes SET state = $1 WHERE id = $2`, auth.SMSRefused, id)
		case auth.SMSFailed:
			_, err = tx.exec(ctx, `DELETE FROM sms_codes WHERE id = $1`, id)
		default:
			return ordergate.Errorf(ordergate.EINVALID, "unknown sms code state %q", state)
		}
		if err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// LatestSMSCode returns the user's valid code for purpose.
func (db *DB) LatestSMSCode(ctx context.Context, userID, purpose string, now time.Time) (*auth.SMSCode, error) {
	c := &auth.SMSCode{}
	var created, expires int64
	err := db.queryRow(ctx, `SELECT id, user_id, purpose, factor_id, phone, hash, created_at, expires_at FROM sms_codes
		WHERE user_id = $1 AND purpose = $2 AND state = $3 AND used_at = 0 AND expires_at > $4
		ORDER BY created_at DESC LIMIT 1`, userID, purpose, auth.SMSSent, micros(now)).
		Scan(&c.ID, &c.UserID, &c.Purpose, &c.FactorID, &c.Phone, &c.Hash, &created, &expires)
	if err != nil {
		return nil, notFound(err, "sms code")
	}
	c.CreatedAt, c.ExpiresAt = fromMicros(created), fromMicros(expires)
	return c, nil
}

// UseSMSCode marks a valid code used; the condition makes it atomic.
func (db *DB) UseSMSCode(ctx context.Context, id string, at time.Time) (bool, error) {
	var ok bool
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE sms_codes SET used_at = $1, state = $2
			WHERE id = $3 AND state = $4 AND used_at = 0 AND expires_at > $1`, micros(at), "used", id, auth.SMSSent)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, err
}

// ConfirmSMSFactor confirms an SMS factor, removing the one it replaces.
func (db *DB) ConfirmSMSFactor(ctx context.Context, id, replaces string, notes []auth.Notification, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE factors SET confirmed = $1, last_used_at = $2 WHERE id = $3 AND confirmed = $4`,
			true, micros(tx.now), id, false)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ECONFLICT, "factor already confirmed")
		}
		if replaces != "" {
			if _, err := tx.exec(ctx, `DELETE FROM factors WHERE id = $1`, replaces); err != nil {
				return err
			}
		}
		if err := tx.insertNotifications(ctx, notes); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// CreateFactorReset stores a reset request.
func (db *DB) CreateFactorReset(ctx context.Context, r *auth.FactorReset, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if r.ID == "" {
			r.ID = newID("rst")
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = tx.now
		}
		if r.Status == "" {
			r.Status = auth.ResetPending
		}
		if _, err := tx.exec(ctx, `INSERT INTO factor_resets (id, user_id, requested_by, reason, status, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, r.UserID, r.RequestedBy, r.Reason, r.Status,
			micros(r.CreatedAt), micros(r.ExpiresAt)); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

const resetColumns = `id, user_id, requested_by, reason, status, created_at, expires_at, approved_by, approved_at`

func scanReset(row interface{ Scan(...any) error }) (*auth.FactorReset, error) {
	r := &auth.FactorReset{}
	var created, expires, approved int64
	if err := row.Scan(&r.ID, &r.UserID, &r.RequestedBy, &r.Reason, &r.Status, &created, &expires, &r.ApprovedBy, &approved); err != nil {
		return nil, err
	}
	r.CreatedAt, r.ExpiresAt, r.ApprovedAt = fromMicros(created), fromMicros(expires), fromMicros(approved)
	return r, nil
}

// FactorReset returns one reset request.
func (db *DB) FactorReset(ctx context.Context, id string) (*auth.FactorReset, error) {
	r, err := scanReset(db.queryRow(ctx, `SELECT `+resetColumns+` FROM factor_resets WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "factor reset")
	}
	return r, nil
}

// FactorResets lists reset requests created since since, newest first.
func (db *DB) FactorResets(ctx context.Context, since time.Time) ([]*auth.FactorReset, error) {
	return queryAll(ctx, db, scanReset, `SELECT `+resetColumns+` FROM factor_resets WHERE created_at >= $1 ORDER BY created_at DESC, id`, micros(since))
}

// ApproveFactorReset approves a pending request and resets the user.
func (db *DB) ApproveFactorReset(ctx context.Context, id, approverID string, at time.Time, link *auth.RecoveryLink, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		var userID string
		err := tx.queryRow(ctx, `UPDATE factor_resets SET status = $1, approved_by = $2, approved_at = $3
			WHERE id = $4 AND status = $5 AND expires_at > $3 AND requested_by <> $2 AND user_id <> $2
			RETURNING user_id`, auth.ResetApproved, approverID, micros(at), id, auth.ResetPending).Scan(&userID)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ordergate.Errorf(ordergate.ECONFLICT, "the request is no longer pending, has expired, or is yours")
			}
			return err
		}
		for _, q := range []string{
			`DELETE FROM factors WHERE user_id = $1`,
			`DELETE FROM backup_codes WHERE user_id = $1`,
			`DELETE FROM sessions WHERE user_id = $1`,
			`DELETE FROM sms_codes WHERE user_id = $1 AND state <> 'reserved'`,
			`DELETE FROM recovery_links WHERE user_id = $1 AND used_at = 0`,
		} {
			if _, err := tx.exec(ctx, q, userID); err != nil {
				return err
			}
		}
		link.UserID, link.ResetID = userID, id
		if _, err := tx.exec(ctx, `INSERT INTO recovery_links (token_hash, user_id, reset_id, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, $5, 0)`, link.TokenHash, userID, id, micros(link.CreatedAt), micros(link.ExpiresAt)); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// RecoveryLink returns a recovery link by its token's hash.
func (db *DB) RecoveryLink(ctx context.Context, tokenHash string) (*auth.RecoveryLink, error) {
	l := &auth.RecoveryLink{}
	var created, expires, used int64
	err := db.queryRow(ctx, `SELECT token_hash, user_id, reset_id, created_at, expires_at, used_at FROM recovery_links WHERE token_hash = $1`,
		tokenHash).Scan(&l.TokenHash, &l.UserID, &l.ResetID, &created, &expires, &used)
	if err != nil {
		return nil, notFound(err, "recovery link")
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return l, nil
}

// UseRecoveryLink spends a link and starts the session it grants.
func (db *DB) UseRecoveryLink(ctx context.Context, tokenHash string, sess *auth.Session, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE recovery_links SET used_at = $1 WHERE token_hash = $2 AND user_id = $3 AND used_at = 0 AND expires_at > $1`,
			micros(sess.CreatedAt), tokenHash, sess.UserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ECONFLICT, "recovery link already used or expired")
		}
		if err := tx.insertSession(ctx, sess); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func (tx *Tx) insertNotifications(ctx context.Context, notes []auth.Notification) error {
	for _, n := range notes {
		if n.ID == "" {
			n.ID = newID("ntf")
		}
		if n.CreatedAt.IsZero() {
			n.CreatedAt = tx.now
		}
		if _, err := tx.exec(ctx, `INSERT INTO notifications (id, user_id, kind, audit_seq, phone, body, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, n.ID, n.UserID, n.Kind, n.AuditSeq, n.Phone, n.Body, micros(n.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// NotificationCursor returns how far the audit chain was read.
func (db *DB) NotificationCursor(ctx context.Context) (int64, error) {
	var seq int64
	err := db.queryRow(ctx, `SELECT seq FROM notification_cursor WHERE id = 1`).Scan(&seq)
	return seq, err
}

// AddNotifications stores notes and moves the cursor, once.
func (db *DB) AddNotifications(ctx context.Context, from, to int64, notes []auth.Notification) (bool, error) {
	var moved bool
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE notification_cursor SET seq = $1 WHERE id = 1 AND seq = $2`, to, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		moved = true
		return tx.insertNotifications(ctx, notes)
	})
	return moved, err
}

const notificationColumns = `id, user_id, kind, audit_seq, phone, body, created_at, sent_at, channel, attempts, last_error`

func (db *DB) notifications(ctx context.Context, query string, args ...any) ([]*auth.Notification, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*auth.Notification
	for rows.Next() {
		n := &auth.Notification{}
		var created, sent int64
		if err := rows.Scan(&n.ID, &n.UserID, &n.Kind, &n.AuditSeq, &n.Phone, &n.Body, &created, &sent, &n.Channel, &n.Attempts, &n.LastError); err != nil {
			return nil, err
		}
		n.CreatedAt, n.SentAt = fromMicros(created), fromMicros(sent)
		out = append(out, n)
	}
	return out, rows.Err()
}

// PendingNotifications returns unsent notifications, oldest first.
func (db *DB) PendingNotifications(ctx context.Context, maxAttempts, limit int) ([]*auth.Notification, error) {
	return db.notifications(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE sent_at = 0 AND attempts < $1 ORDER BY created_at, audit_seq, id LIMIT $2`, maxAttempts, limit)
}

// MarkNotification records one delivery attempt.
func (db *DB) MarkNotification(ctx context.Context, id, channel, errCode string, at time.Time) error {
	return db.inTx(ctx, func(tx *Tx) error {
		var err error
		if channel != "" {
			_, err = tx.exec(ctx, `UPDATE notifications SET sent_at = $1, channel = $2, attempts = attempts + 1 WHERE id = $3 AND sent_at = 0`,
				micros(at), channel, id)
		} else {
			_, err = tx.exec(ctx, `UPDATE notifications SET attempts = attempts + 1, last_error = $1 WHERE id = $2`, errCode, id)
		}
		return err
	})
}

// Notifications lists a user's notifications, oldest first.
func (db *DB) Notifications(ctx context.Context, userID string) ([]*auth.Notification, error) {
	return db.notifications(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE user_id = $1 ORDER BY created_at, audit_seq, id`, userID)
}
