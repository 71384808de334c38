// Package auth is ordergate's identity core: users, roles and groups,
// password login, sessions that carry their authentication context, and
// the throttling that keeps guessing slow. It defines the Store it needs;
// the sqlite and postgres adapters implement it.
package auth

import (
	"regexp"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
)

// Roles shipped by default.
const (
	RoleAdmin    = "admin"
	RoleApprover = "approver"
	RoleClerk    = "clerk"
	RoleAuditor  = "auditor"
)

// DefaultRoles are the roles every ordergate database starts with.
var DefaultRoles = []string{RoleAdmin, RoleApprover, RoleClerk, RoleAuditor}

// User is a person who signs in to ordergate.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Email        string
	Phone        string
	Roles        []string
	Groups       []string
	Disabled     bool
	CreatedAt    time.Time
	LastLoginAt  time.Time
	// Postponements counts enrollments put off during a grace period.
	Postponements int
}

// HasRole reports whether u holds role.
func (u *User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidUsername returns an EINVALID error naming "username" unless name is
// 1–64 characters of lower-case letters, digits, '.', '_', '@' or '-',
// starting with a letter or digit.
func ValidUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return ordergate.FieldError(ordergate.EINVALID, "username",
			"1-64 characters: lower-case letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
	}
	return nil
}

// ValidRoles returns an EINVALID error naming "roles" unless every role is
// one of known and at least one is given.
func ValidRoles(roles, known []string) error {
	if len(roles) == 0 {
		return ordergate.FieldError(ordergate.EINVALID, "roles", "at least one role is required")
	}
	for _, r := range roles {
		if !slices.Contains(known, r) {
			return ordergate.FieldError(ordergate.EINVALID, "roles", "unknown role "+r)
		}
	}
	return nil
}
