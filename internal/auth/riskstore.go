package auth

import (
	"context"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/risk"
)

// Login outcomes as the login history records them.
const (
	OutcomeFailed = "failed"
	OutcomeDenied = "denied"
)

// LoginRecord is one login attempt as the risk engine remembers it.
type LoginRecord struct {
	ID       string
	UserID   string
	At       time.Time
	ClientIP string
	// Network is the client's /24 or /48 (risk.Network).
	Network  string
	DeviceID string
	Location risk.Location
	// Outcome is the login state answered (authenticated, mfa_required,
	// enrollment_required), OutcomeDenied or OutcomeFailed.
	Outcome string
	// Completed is true once the login was fully authenticated; only
	// completed logins teach the engine new devices, networks and hours.
	Completed bool
	// SessionID is the public ID of the session the attempt created.
	SessionID string
}

// Device is a browser known by its signed device cookie.
type Device struct {
	ID          string
	UserID      string
	UserAgent   string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	// RememberedUntil is when "trust this browser" ends; zero when the
	// device is not remembered.
	RememberedUntil time.Time
}

// Remembered reports whether d lets its user skip the second factor at now.
func (d *Device) Remembered(now time.Time) bool {
	return d != nil && now.Before(d.RememberedUntil)
}

// RiskDecision is one risk assessment, kept for the admin page.
type RiskDecision struct {
	ID       string
	At       time.Time
	UserID   string
	Username string
	// Action is "login" or the order action assessed.
	Action   string
	ClientIP string
	Country  string
	Score    int
	Decision risk.Decision
	Reasons  []string
	Factors  []risk.Factor
}

// RiskProfile is what the store knows about a user for one login.
type RiskProfile struct {
	// Device is the device named by the cookie, nil when unknown.
	Device *Device
	// NetworkKnown is true when the user completed a login from the network.
	NetworkKnown bool
	// History holds the last completed logins, newest first.
	History []LoginRecord
	// Failures counts failed logins since the later of the last completed
	// login and the time given.
	Failures int
}

// RiskStore keeps the signals risk-based authentication learns from.
type RiskStore interface {
	// RiskProfile returns what is known of userID's device deviceID and
	// network, its last n completed logins, and its failed logins since.
	RiskProfile(ctx context.Context, userID, deviceID, network string, n int, since time.Time) (*RiskProfile, error)
	// RecordLoginRisk stores a login attempt and, when d is not nil, a risk
	// decision, with evs, in one transaction.
	RecordLoginRisk(ctx context.Context, l *LoginRecord, d *RiskDecision, evs ...audit.Event) error
	// RecordRiskDecision stores a decision about an action, with evs.
	RecordRiskDecision(ctx context.Context, d *RiskDecision, evs ...audit.Event) error
	// ConfirmLoginRisk marks the login that created session sessionID as
	// completed at at, and learns its network and device (with userAgent).
	// ENOTFOUND when no such login of userID is recorded.
	ConfirmLoginRisk(ctx context.Context, userID, sessionID, userAgent string, at time.Time) error
	// Devices lists a user's known devices, most recently seen first.
	Devices(ctx context.Context, userID string) ([]*Device, error)
	// RememberDevice sets until on a device of userID; ENOTFOUND when the
	// user never completed a login from it.
	RememberDevice(ctx context.Context, userID, deviceID string, until time.Time, evs ...audit.Event) error
	// ForgetDevice removes one device of userID (ENOTFOUND when unknown).
	ForgetDevice(ctx context.Context, userID, deviceID string, evs ...audit.Event) error
	// ForgetRememberedDevices stops every remembered device of userID from
	// skipping the second factor and returns how many were remembered.
	ForgetRememberedDevices(ctx context.Context, userID string, evs ...audit.Event) (int, error)
	// RiskDecisions returns the newest decisions, at most limit.
	RiskDecisions(ctx context.Context, limit int) ([]*RiskDecision, error)
}
