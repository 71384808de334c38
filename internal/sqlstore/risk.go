package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/risk"
)

var _ auth.RiskStore = (*DB)(nil)

// RiskProfile returns what is known of a user's device, network, recent
// completed logins and failures.
func (db *DB) RiskProfile(ctx context.Context, userID, deviceID, network string, n int, since time.Time) (*auth.RiskProfile, error) {
	p := &auth.RiskProfile{}
	if deviceID != "" {
		d, err := scanDevice(db.queryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 AND id = $2`, userID, deviceID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		p.Device = d
	}
	var known int
	if err := db.queryRow(ctx, `SELECT count(*) FROM known_networks WHERE user_id = $1 AND network = $2`, userID, network).Scan(&known); err != nil {
		return nil, err
	}
	p.NetworkKnown = known > 0
	rows, err := db.query(ctx, `SELECT `+loginColumns+` FROM login_history
		WHERE user_id = $1 AND completed = 1 ORDER BY at DESC LIMIT $2`, userID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLogin(rows)
		if err != nil {
			return nil, err
		}
		p.History = append(p.History, *l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(p.History) > 0 && p.History[0].At.After(since) {
		since = p.History[0].At
	}
	if err := db.queryRow(ctx, `SELECT count(*) FROM login_history WHERE user_id = $1 AND outcome = $2 AND at > $3`,
		userID, auth.OutcomeFailed, micros(since)).Scan(&p.Failures); err != nil {
		return nil, err
	}
	return p, nil
}

const loginColumns = `id, user_id, at, client_ip, network, device_id, country, lat, lon, outcome, completed, session_id`

func scanLogin(row interface{ Scan(...any) error }) (*auth.LoginRecord, error) {
	l := &auth.LoginRecord{}
	var at int64
	var lat, lon sql.NullFloat64
	var completed int
	if err := row.Scan(&l.ID, &l.UserID, &at, &l.ClientIP, &l.Network, &l.DeviceID, &l.Location.Country,
		&lat, &lon, &l.Outcome, &completed, &l.SessionID); err != nil {
		return nil, err
	}
	l.At, l.Completed = fromMicros(at), completed == 1
	if lat.Valid && lon.Valid {
		l.Location.Lat, l.Location.Lon, l.Location.HasCoords = lat.Float64, lon.Float64, true
	}
	return l, nil
}

const deviceColumns = `id, user_id, user_agent, first_seen_at, last_seen_at, remembered_until`

func scanDevice(row interface{ Scan(...any) error }) (*auth.Device, error) {
	d := &auth.Device{}
	var first, last, until int64
	if err := row.Scan(&d.ID, &d.UserID, &d.UserAgent, &first, &last, &until); err != nil {
		return nil, err
	}
	d.FirstSeenAt, d.LastSeenAt, d.RememberedUntil = fromMicros(first), fromMicros(last), fromMicros(until)
	return d, nil
}

// RecordLoginRisk stores a login attempt and its decision with evs.
func (db *DB) RecordLoginRisk(ctx context.Context, l *auth.LoginRecord, d *auth.RiskDecision, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if l.ID == "" {
			l.ID = newID("lgn")
		}
		var lat, lon any
		if l.Location.HasCoords {
			lat, lon = l.Location.Lat, l.Location.Lon
		}
		completed := 0
		if l.Completed {
			completed = 1
		}
		if _, err := tx.exec(ctx, `INSERT INTO login_history (`+loginColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			l.ID, l.UserID, micros(l.At), l.ClientIP, l.Network, l.DeviceID, l.Location.Country, lat, lon,
			l.Outcome, completed, l.SessionID); err != nil {
			return err
		}
		if l.Completed {
			if err := tx.learn(ctx, l, ""); err != nil {
				return err
			}
		}
		if d != nil {
			if err := tx.insertRiskDecision(ctx, d); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// learn makes a completed login's network and device known.
func (tx *Tx) learn(ctx context.Context, l *auth.LoginRecord, userAgent string) error {
	if l.Network != "" {
		if _, err := tx.exec(ctx, `INSERT INTO known_networks (user_id, network, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)
			ON CONFLICT (user_id, network) DO UPDATE SET last_seen_at = $3`, l.UserID, l.Network, micros(l.At)); err != nil {
			return err
		}
	}
	if l.DeviceID != "" {
		if _, err := tx.exec(ctx, `INSERT INTO devices (user_id, id, user_agent, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (user_id, id) DO UPDATE SET last_seen_at = $4, user_agent = CASE WHEN $3 = '' THEN devices.user_agent ELSE $3 END`,
			l.UserID, l.DeviceID, userAgent, micros(l.At)); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) insertRiskDecision(ctx context.Context, d *auth.RiskDecision) error {
	if d.ID == "" {
		d.ID = newID("rsk")
	}
	reasons, err := json.Marshal(nonNil(d.Reasons))
	if err != nil {
		return err
	}
	factors, err := json.Marshal(nonNil(d.Factors))
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO risk_decisions (id, at, user_id, username, action, client_ip, country, score, decision, reasons, factors)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		d.ID, micros(d.At), d.UserID, d.Username, d.Action, d.ClientIP, d.Country, d.Score, string(d.Decision), string(reasons), string(factors))
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// RecordRiskDecision stores a decision about an action with evs.
func (db *DB) RecordRiskDecision(ctx context.Context, d *auth.RiskDecision, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.insertRiskDecision(ctx, d); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// ConfirmLoginRisk completes the login that created sessionID and learns
// its network and device.
func (db *DB) ConfirmLoginRisk(ctx context.Context, userID, sessionID, userAgent string, at time.Time) error {
	return db.inTx(ctx, func(tx *Tx) error {
		return tx.confirmLogin(ctx, userID, sessionID, userAgent, at)
	})
}

func (tx *Tx) confirmLogin(ctx context.Context, userID, sessionID, userAgent string, at time.Time) error {
	l, err := scanLogin(tx.queryRow(ctx, `SELECT `+loginColumns+` FROM login_history WHERE user_id = $1 AND session_id = $2`, userID, sessionID))
	if err != nil {
		return notFound(err, "login")
	}
	if _, err := tx.exec(ctx, `UPDATE login_history SET completed = 1 WHERE id = $1`, l.ID); err != nil {
		return err
	}
	l.At = at
	return tx.learn(ctx, l, userAgent)
}

// Devices lists a user's known devices, most recently seen first.
func (db *DB) Devices(ctx context.Context, userID string) ([]*auth.Device, error) {
	return queryAll(ctx, db, scanDevice, `SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id`, userID)
}

// RememberDevice sets a known device's remembered-until time.
func (db *DB) RememberDevice(ctx context.Context, userID, deviceID string, until time.Time, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE devices SET remembered_until = $1 WHERE user_id = $2 AND id = $3`, micros(until), userID, deviceID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "device not found")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// ForgetDevice removes a device of userID.
func (db *DB) ForgetDevice(ctx context.Context, userID, deviceID string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM devices WHERE user_id = $1 AND id = $2`, userID, deviceID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "device not found")
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// ForgetRememberedDevices clears every remembered device of userID.
func (db *DB) ForgetRememberedDevices(ctx context.Context, userID string, evs ...audit.Event) (int, error) {
	var n int64
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE devices SET remembered_until = 0 WHERE user_id = $1 AND remembered_until > $2`, userID, micros(tx.now))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if n == 0 {
			return nil
		}
		return tx.appendAudit(ctx, evs...)
	})
	return int(n), err
}

// RiskDecisions returns the newest decisions, at most limit.
func (db *DB) RiskDecisions(ctx context.Context, limit int) ([]*auth.RiskDecision, error) {
	rows, err := db.query(ctx, `SELECT id, at, user_id, username, action, client_ip, country, score, decision, reasons, factors
		FROM risk_decisions ORDER BY at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*auth.RiskDecision
	for rows.Next() {
		d := &auth.RiskDecision{}
		var at int64
		var decision, reasons, factors string
		if err := rows.Scan(&d.ID, &at, &d.UserID, &d.Username, &d.Action, &d.ClientIP, &d.Country, &d.Score, &decision, &reasons, &factors); err != nil {
			return nil, err
		}
		d.At, d.Decision = fromMicros(at), risk.Decision(decision)
		if err := json.Unmarshal([]byte(reasons), &d.Reasons); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(factors), &d.Factors); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
