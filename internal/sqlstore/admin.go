package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

var _ auth.AdminStore = (*DB)(nil)

// likePattern escapes s for LIKE ... ESCAPE '\' and wraps it in %.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// QueryUsers returns the users q selects, ordered by username, with roles,
// groups and confirmed factor types.
func (db *DB) QueryUsers(ctx context.Context, q auth.UserQuery) ([]auth.UserEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		idx := make([]any, len(v))
		for i, x := range v {
			args = append(args, x)
			idx[i] = len(args)
		}
		where = append(where, fmt.Sprintf(cond, idx...))
	}
	if q.Role != "" {
		add("EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = $%d)", q.Role)
	}
	if q.Group != "" {
		add("EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = users.id AND g.group_name = $%d)", q.Group)
	}
	switch q.MFA {
	case "enrolled":
		add("EXISTS (SELECT 1 FROM factors f WHERE f.user_id = users.id AND f.confirmed = $%d)", true)
	case "none":
		add("NOT EXISTS (SELECT 1 FROM factors f WHERE f.user_id = users.id AND f.confirmed = $%d)", true)
	}
	if q.Disabled != nil {
		add("disabled = $%d", *q.Disabled)
	}
	if q.Text != "" {
		p := likePattern(strings.ToLower(q.Text))
		add(`(username LIKE $%d ESCAPE '\' OR lower(email) LIKE $%d ESCAPE '\')`, p, p)
	}
	if q.After != "" {
		add("username > $%d", q.After)
	}
	query := `SELECT ` + userColumns + ` FROM users`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	query += fmt.Sprintf(" ORDER BY username LIMIT $%d", len(args))
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []auth.UserEntry
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, auth.UserEntry{User: u})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		u := out[i].User
		if err := db.loadMemberships(ctx, u); err != nil {
			return nil, err
		}
		if out[i].Factors, err = db.strings(ctx, `SELECT DISTINCT type FROM factors WHERE user_id = $1 AND confirmed = $2 ORDER BY type`, u.ID, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UserSessions lists a user's sessions, newest first.
func (db *DB) UserSessions(ctx context.Context, userID string) ([]*auth.Session, error) {
	rows, err := db.query(ctx, `SELECT id FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []*auth.Session
	for _, id := range ids {
		s, err := db.SessionByID(ctx, id)
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			continue // ended meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// SetUserDisabled disables or enables a user; disabling ends the user's
// sessions and unused links in the same transaction.
func (db *DB) SetUserDisabled(ctx context.Context, userID string, disabled bool, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE users SET disabled = $1 WHERE id = $2`, disabled, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "user not found")
		}
		if disabled {
			if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `DELETE FROM account_links WHERE user_id = $1 AND used_at = 0`, userID); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func (tx *Tx) setGroups(ctx context.Context, userID string, groups []string) error {
	if _, err := tx.exec(ctx, `DELETE FROM user_groups WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := tx.exec(ctx, `INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2)`, userID, g); err != nil {
			return err
		}
	}
	return nil
}

// SetMemberships replaces a user's roles and groups.
func (db *DB) SetMemberships(ctx context.Context, userID string, roles, groups []string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.requireUser(ctx, userID); err != nil {
			return err
		}
		if err := tx.setRoles(ctx, userID, roles); err != nil {
			return err
		}
		if err := tx.setGroups(ctx, userID, groups); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// SetPassword replaces a user's password hash and ends the user's other
// sessions.
func (db *DB) SetPassword(ctx context.Context, userID, passwordHash, keepSession string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "user not found")
		}
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, keepSession); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func (tx *Tx) insertRoleRequest(ctx context.Context, r *auth.RoleRequest) error {
	r.ID = newID("rrq")
	roles, _ := json.Marshal(r.Roles)
	groups, _ := json.Marshal(r.Groups)
	_, err := tx.exec(ctx, `INSERT INTO role_requests (id, user_id, role_names, group_names, requested_by, status, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.UserID, string(roles), string(groups), r.RequestedBy, r.Status, micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

// CreateRoleRequest stores r with a new ID.
func (db *DB) CreateRoleRequest(ctx context.Context, r *auth.RoleRequest, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.requireUser(ctx, r.UserID); err != nil {
			return err
		}
		if err := tx.insertRoleRequest(ctx, r); err != nil {
			return err
		}
		for i := range evs {
			if evs[i].Data == nil {
				evs[i].Data = map[string]any{}
			}
			evs[i].Data["request_id"] = r.ID
		}
		return tx.appendAudit(ctx, evs...)
	})
}

const roleRequestColumns = `id, user_id, role_names, group_names, requested_by, status, created_at, expires_at, approved_by, approved_at`

func scanRoleRequest(row interface{ Scan(...any) error }) (*auth.RoleRequest, error) {
	r := &auth.RoleRequest{}
	var roles, groups string
	var created, expires, approved int64
	if err := row.Scan(&r.ID, &r.UserID, &roles, &groups, &r.RequestedBy, &r.Status, &created, &expires, &r.ApprovedBy, &approved); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(roles), &r.Roles); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(groups), &r.Groups); err != nil {
		return nil, err
	}
	r.CreatedAt, r.ExpiresAt, r.ApprovedAt = fromMicros(created), fromMicros(expires), fromMicros(approved)
	return r, nil
}

// RoleRequest returns one role request.
func (db *DB) RoleRequest(ctx context.Context, id string) (*auth.RoleRequest, error) {
	r, err := scanRoleRequest(db.queryRow(ctx, `SELECT `+roleRequestColumns+` FROM role_requests WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "role request")
	}
	return r, nil
}

// RoleRequests lists requests, newest first, for one user and status when
// they are not empty.
func (db *DB) RoleRequests(ctx context.Context, userID, status string) ([]*auth.RoleRequest, error) {
	q := `SELECT ` + roleRequestColumns + ` FROM role_requests WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR status = $2)
		ORDER BY created_at DESC, id LIMIT 200`
	return queryAll(ctx, db, scanRoleRequest, q, userID, status)
}

// ApproveRoleRequest approves a pending request and applies it, in one
// transaction; the conditions are checked by the UPDATE itself, so two
// concurrent approvals cannot both succeed.
func (db *DB) ApproveRoleRequest(ctx context.Context, id, approverID string, at time.Time, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE role_requests SET status = $1, approved_by = $2, approved_at = $3
			WHERE id = $4 AND status = $5 AND expires_at > $3 AND requested_by <> $2 AND user_id <> $2`,
			auth.RoleRequestApproved, approverID, micros(at), id, auth.RoleRequestPending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ordergate.Errorf(ordergate.ECONFLICT, "role request is not pending")
		}
		r, err := scanRoleRequest(tx.queryRow(ctx, `SELECT `+roleRequestColumns+` FROM role_requests WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if err := tx.setRoles(ctx, r.UserID, r.Roles); err != nil {
			return err
		}
		if err := tx.setGroups(ctx, r.UserID, r.Groups); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func (tx *Tx) insertLink(ctx context.Context, l *auth.AccountLink) error {
	l.ID = newID("lnk")
	if _, err := tx.exec(ctx, `DELETE FROM account_links WHERE user_id = $1 AND kind = $2 AND used_at = 0`, l.UserID, l.Kind); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `INSERT INTO account_links (id, kind, user_id, token_hash, created_by, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
		l.ID, l.Kind, l.UserID, l.TokenHash, l.CreatedBy, micros(l.CreatedAt), micros(l.ExpiresAt))
	return err
}

// CreateInvitation stores a new user, its invitation link and, when not
// nil, a role request for it, in one transaction.
func (db *DB) CreateInvitation(ctx context.Context, u *auth.User, link *auth.AccountLink, req *auth.RoleRequest, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.insertUser(ctx, u); err != nil {
			return err
		}
		link.UserID = u.ID
		if err := tx.insertLink(ctx, link); err != nil {
			return err
		}
		for i := range evs {
			evs[i].SubjectID = u.ID
			if evs[i].Data == nil {
				evs[i].Data = map[string]any{}
			}
			evs[i].Data["link_id"] = link.ID
		}
		if req != nil {
			req.UserID = u.ID
			if err := tx.insertRoleRequest(ctx, req); err != nil {
				return err
			}
			for i := range evs {
				evs[i].Data["role_request_id"] = req.ID
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// CreateAccountLink stores link, replacing the user's unused links of its
// kind.
func (db *DB) CreateAccountLink(ctx context.Context, link *auth.AccountLink, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.requireUser(ctx, link.UserID); err != nil {
			return err
		}
		if err := tx.insertLink(ctx, link); err != nil {
			return err
		}
		for i := range evs {
			if evs[i].Data == nil {
				evs[i].Data = map[string]any{}
			}
			evs[i].Data["link_id"] = link.ID
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// AccountLink returns the link whose token hashes to tokenHash.
func (db *DB) AccountLink(ctx context.Context, tokenHash string) (*auth.AccountLink, error) {
	l := &auth.AccountLink{}
	var created, expires, used int64
	err := db.queryRow(ctx, `SELECT id, kind, user_id, token_hash, created_by, created_at, expires_at, used_at
		FROM account_links WHERE token_hash = $1`, tokenHash).
		Scan(&l.ID, &l.Kind, &l.UserID, &l.TokenHash, &l.CreatedBy, &created, &expires, &used)
	if err != nil {
		return nil, notFound(err, "link")
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return l, nil
}

// UseAccountLink spends the link if it is unused and unexpired, sets the
// password, ends the user's sessions and stores sess, in one transaction.
func (db *DB) UseAccountLink(ctx context.Context, tokenHash, passwordHash string, sess *auth.Session, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		var userID string
		err := tx.queryRow(ctx, `UPDATE account_links SET used_at = $1 WHERE token_hash = $2 AND used_at = 0 AND expires_at > $1
			RETURNING user_id`, micros(tx.now), tokenHash).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return ordergate.Errorf(ordergate.ECONFLICT, "link used or expired")
		} else if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND disabled = $3`, passwordHash, userID, false); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if sess != nil {
			if err := tx.insertSession(ctx, sess); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// SecurityEventCounts counts, per action and outcome, the events since
// since that did not end ok, and the clone alerts.
func (db *DB) SecurityEventCounts(ctx context.Context, since time.Time) ([]auth.ActionCount, error) {
	rows, err := db.query(ctx, `SELECT action, body FROM audit_events WHERE at >= $1
		AND (body NOT LIKE '%"outcome":"ok"%' OR action LIKE '%clone_suspected')`, micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct{ action, outcome string }
	counts := map[key]int{}
	var order []key
	for rows.Next() {
		var action, body string
		if err := rows.Scan(&action, &body); err != nil {
			return nil, err
		}
		var e struct {
			Outcome string `json:"outcome"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("decode audit event: %w", err)
		}
		k := key{action, e.Outcome}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]auth.ActionCount, 0, len(order))
	for _, k := range order {
		out = append(out, auth.ActionCount{Action: k.action, Outcome: k.outcome, Count: counts[k]})
	}
	return out, nil
}
