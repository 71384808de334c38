package sqlstore

import (
	"context"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

var _ auth.Store = (*DB)(nil)

// CreateUser stores u with a new ID, its roles and groups, and evs.
func (db *DB) CreateUser(ctx context.Context, u *auth.User, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.insertUser(ctx, u); err != nil {
			return err
		}
		for i := range evs {
			evs[i].SubjectID = u.ID
		}
		return tx.appendAudit(ctx, evs...)
	})
}

// insertUser stores u with a new ID, its roles and groups; a taken
// username is ECONFLICT.
func (tx *Tx) insertUser(ctx context.Context, u *auth.User) error {
	u.ID = newID("usr")
	if u.CreatedAt.IsZero() {
		u.CreatedAt = tx.now
	}
	_, err := tx.exec(ctx, `INSERT INTO users (id, username, password_hash, email, phone, disabled, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
		u.ID, u.Username, u.PasswordHash, u.Email, u.Phone, u.Disabled, micros(u.CreatedAt))
	if err != nil {
		if tx.db.dialect.IsUniqueViolation(err) {
			return ordergate.FieldError(ordergate.ECONFLICT, "username", "already taken")
		}
		return err
	}
	if err := tx.setRoles(ctx, u.ID, u.Roles); err != nil {
		return err
	}
	return tx.setGroups(ctx, u.ID, u.Groups)
}

func (tx *Tx) setRoles(ctx context.Context, userID string, roles []string) error {
	if _, err := tx.exec(ctx, `DELETE FROM user_roles WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, r := range roles {
		if _, err := tx.exec(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, userID, r); err != nil {
			return err
		}
	}
	return nil
}

// SetUserRoles replaces a user's roles.
func (db *DB) SetUserRoles(ctx context.Context, userID string, roles []string, evs ...audit.Event) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.requireUser(ctx, userID); err != nil {
			return err
		}
		if err := tx.setRoles(ctx, userID, roles); err != nil {
			return err
		}
		return tx.appendAudit(ctx, evs...)
	})
}

func (tx *Tx) requireUser(ctx context.Context, userID string) error {
	var id string
	return notFound(tx.queryRow(ctx, `SELECT id FROM users WHERE id = $1`, userID).Scan(&id), "user")
}

const userColumns = `id, username, password_hash, email, phone, disabled, created_at, last_login_at, mfa_postponements`

func scanUser(row interface{ Scan(...any) error }) (*auth.User, error) {
	u := &auth.User{}
	var created, last int64
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Email, &u.Phone, &u.Disabled, &created, &last, &u.Postponements); err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastLoginAt = fromMicros(created), fromMicros(last)
	return u, nil
}

// UserByUsername returns the user with that username.
func (db *DB) UserByUsername(ctx context.Context, username string) (*auth.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
	if err != nil {
		return nil, notFound(err, "user")
	}
	return u, db.loadMemberships(ctx, u)
}

// UserByID returns the user with that ID.
func (db *DB) UserByID(ctx context.Context, id string) (*auth.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "user")
	}
	return u, db.loadMemberships(ctx, u)
}

func (db *DB) loadMemberships(ctx context.Context, u *auth.User) error {
	var err error
	if u.Roles, err = db.strings(ctx, `SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, u.ID); err != nil {
		return err
	}
	u.Groups, err = db.strings(ctx, `SELECT group_name FROM user_groups WHERE user_id = $1 ORDER BY group_name`, u.ID)
	return err
}

func (db *DB) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ListUsers returns every user ordered by username, with roles and groups.
func (db *DB) ListUsers(ctx context.Context) ([]*auth.User, error) {
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	var users []*auth.User
	byID := map[string]*auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		users = append(users, u)
		byID[u.ID] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := db.eachPair(ctx, `SELECT user_id, role FROM user_roles ORDER BY role`, func(id, v string) {
		if u := byID[id]; u != nil {
			u.Roles = append(u.Roles, v)
		}
	}); err != nil {
		return nil, err
	}
	return users, db.eachPair(ctx, `SELECT user_id, group_name FROM user_groups ORDER BY group_name`, func(id, v string) {
		if u := byID[id]; u != nil {
			u.Groups = append(u.Groups, v)
		}
	})
}

func (db *DB) eachPair(ctx context.Context, query string, fn func(a, b string)) error {
	rows, err := db.query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// RecordLogin sets the last login time and, when given, a new password hash.
func (db *DB) RecordLogin(ctx context.Context, userID string, at time.Time, passwordHash string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if passwordHash != "" {
			if _, err := tx.exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, userID); err != nil {
				return err
			}
		}
		_, err := tx.exec(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, micros(at), userID)
		return err
	})
}

// PostponeEnrollment counts one more postponement unless the user has had
// max already, and reports whether it counted.
func (db *DB) PostponeEnrollment(ctx context.Context, userID string, max int, evs ...audit.Event) (bool, error) {
	var ok bool
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE users SET mfa_postponements = mfa_postponements + 1 WHERE id = $1 AND mfa_postponements < $2`, userID, max)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if ok = n == 1; !ok {
			return nil
		}
		return tx.appendAudit(ctx, evs...)
	})
	return ok, err
}
