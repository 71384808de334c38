package auth

import (
	"context"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
)

// Store keeps users, sessions and throttles. Every method that changes
// something also appends the given audit events in the same transaction,
// so a change and its record are never apart.
type Store interface {
	FactorStore
	AdminStore

	// CreateUser stores u with a new ID. ECONFLICT when the username is taken.
	CreateUser(ctx context.Context, u *User, evs ...audit.Event) error
	// UserByUsername returns ENOTFOUND when no such user exists.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// UserByID returns ENOTFOUND when no such user exists.
	UserByID(ctx context.Context, id string) (*User, error)
	// ListUsers returns users ordered by username.
	ListUsers(ctx context.Context) ([]*User, error)
	// SetUserRoles replaces u's roles. ENOTFOUND for an unknown user.
	SetUserRoles(ctx context.Context, userID string, roles []string, evs ...audit.Event) error
	// PostponeEnrollment counts one more postponement unless the user has
	// had max already, and reports whether it counted.
	PostponeEnrollment(ctx context.Context, userID string, max int, evs ...audit.Event) (bool, error)
	// RecordLogin sets a user's last login time and, when passwordHash is
	// not empty, replaces the stored hash (rehash after a parameter change).
	RecordLogin(ctx context.Context, userID string, at time.Time, passwordHash string) error

	// CreateSession stores s; ReplaceSession removes the session oldID and
	// stores s in one step (a new token on every change of assurance).
	CreateSession(ctx context.Context, s *Session, evs ...audit.Event) error
	ReplaceSession(ctx context.Context, oldID string, s *Session, evs ...audit.Event) error
	// UpgradeSession writes everything a proven second factor changes in
	// one transaction: see SessionUpgrade. ErrStepUsed, with nothing
	// written, when up.Step is set and another request used that step
	// first; ENOTFOUND when up.OldID no longer exists.
	UpgradeSession(ctx context.Context, up SessionUpgrade) error
	// SessionByID returns ENOTFOUND when there is no such session.
	SessionByID(ctx context.Context, id string) (*Session, error)
	// TouchSession moves a session's last-seen time.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession ends one session; DeleteUserSessions ends all of a
	// user's sessions but except (which may be empty).
	DeleteSession(ctx context.Context, id string, evs ...audit.Event) error
	DeleteUserSessions(ctx context.Context, userID, except string, evs ...audit.Event) error

	// ThrottleState returns the lock on key (zero when none).
	ThrottleState(ctx context.Context, key string) (Lock, error)
	// ThrottleFail counts one more failure on key at now, forgetting
	// failures older than t.Reset, locks the key for t.Wait(failures), and
	// appends evs (the failure's record), all in one transaction.
	ThrottleFail(ctx context.Context, key string, t Throttle, now time.Time, evs ...audit.Event) (Lock, error)
	// ThrottleReset forgets key's failures.
	ThrottleReset(ctx context.Context, key string) error

	// AppendAudit appends events to the audit chain.
	AppendAudit(ctx context.Context, evs ...audit.Event) error
}
