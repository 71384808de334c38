package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// State is what a session may do.
type State string

// Session states. A pending session has passed the password and may only
// finish the second factor; an enrollment session may only enroll one.
const (
	StatePending    State = "pending"
	StateEnrollment State = "enrollment"
	StateActive     State = "active"
)

// Session is a signed-in browser or API client. Only the hash of its token
// is stored; the token itself is given to the client once.
type Session struct {
	// ID is the hex SHA-256 of the token.
	ID         string
	UserID     string
	State      State
	Auth       ordergate.AuthContext
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time
}

// Timeouts are a session's idle and absolute limits.
type Timeouts struct {
	Idle     time.Duration
	Absolute time.Duration
}

// SessionPolicy sets timeouts per assurance level (NIST SP 800-63B §4).
type SessionPolicy struct {
	// Pending limits a session that has not finished signing in.
	Pending Timeouts
	AAL1    Timeouts
	AAL2    Timeouts
	AAL3    Timeouts
}

// DefaultSessionPolicy follows NIST SP 800-63B rev 3: AAL2 30 minutes idle
// and 12 hours in all, AAL3 15 minutes idle; AAL1 30 days in all.
var DefaultSessionPolicy = SessionPolicy{
	Pending: Timeouts{Idle: 10 * time.Minute, Absolute: 15 * time.Minute},
	AAL1:    Timeouts{Idle: 24 * time.Hour, Absolute: 30 * 24 * time.Hour},
	AAL2:    Timeouts{Idle: 30 * time.Minute, Absolute: 12 * time.Hour},
	AAL3:    Timeouts{Idle: 15 * time.Minute, Absolute: 12 * time.Hour},
}

// For returns the timeouts that apply to a session in state s at level aal.
func (p SessionPolicy) For(s State, aal ordergate.AAL) Timeouts {
	switch {
	case s != StateActive:
		return p.Pending
	case aal >= ordergate.AAL3:
		return p.AAL3
	case aal == ordergate.AAL2:
		return p.AAL2
	default:
		return p.AAL1
	}
}

// Expired reports whether s is past its idle or absolute limit at now.
func (p SessionPolicy) Expired(s *Session, now time.Time) bool {
	t := p.For(s.State, s.Auth.AAL)
	return !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= t.Idle
}

// NewToken returns a new 256-bit session token, base64url without padding.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the stored form of a session or one-time token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// PublicID is the session's identifier as shown in audit records: a prefix
// of its hash, enough to tell sessions apart, useless to sign in with.
func (s *Session) PublicID() string { return s.ID[:16] }

// SessionUpgrade is what a proven second factor changes, written by
// Store.UpgradeSession in one transaction so that a login's second step
// costs one commit and a code is never spent without its session.
type SessionUpgrade struct {
	// OldID is the session replaced; Next is its successor with a new token.
	OldID string
	Next  *Session
	// Step, when set, is the one-time TOTP time step the code used (a
	// hardware token's HOTP counter is spent by verifyHOTP, before the
	// upgrade). It is recorded on the factor first, exactly as
	// FactorStore.UseTOTPStep does, and the whole upgrade is refused with
	// ErrStepUsed when it is not later than the factor's last used step.
	Step *UsedStep
	// ThrottleKey, when set, has its failures forgotten.
	ThrottleKey string
	// Login, when set, marks the login that created the session as
	// completed and learns its network and device, as
	// RiskStore.ConfirmLoginRisk does; no recorded login is not an error.
	Login *LoginConfirmation
	// Events are appended to the audit chain.
	Events []audit.Event
}

// UsedStep is a one-time step of a TOTP or HOTP factor being spent.
type UsedStep struct {
	FactorID string
	Step     int64
	At       time.Time
}

// LoginConfirmation names the login whose risk record a successful second
// factor completes.
type LoginConfirmation struct {
	UserID    string
	SessionID string
	UserAgent string
	At        time.Time
}

// ErrStepUsed is Store.UpgradeSession's answer when the one-time step it
// was to spend was spent by another request first.
var ErrStepUsed = errors.New("one-time step already used")
