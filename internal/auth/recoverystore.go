package auth

import (
	"context"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
)

// SMS code purposes: what a code may be used for.
const (
	SMSPurposeLogin  = "login"  // a second factor at sign-in or step-up
	SMSPurposeEnroll = "enroll" // proves the number of an SMS factor being enrolled
	SMSPurposeVouch  = "vouch"  // confirms a first enrollment through the pre-registered phone
)

// SMS code states as the store keeps them.
const (
	SMSReserved = "reserved" // counted against the send limits, not yet sent
	SMSSent     = "sent"     // the one valid code of its user and purpose
	SMSRefused  = "refused"  // not sent (e.g. SIM swapped); still counted
	SMSFailed   = "failed"   // the provider failed; the row is removed, nothing counted
)

// SMSCode is one SMS one-time code. Only its keyed hash is stored.
type SMSCode struct {
	ID       string
	UserID   string
	Purpose  string
	FactorID string
	// Phone is the E.164 number the code goes to.
	Phone     string
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SendLimit allows at most Max codes per Window, per user and per number.
type SendLimit struct {
	Max    int
	Window time.Duration
}

// DefaultSendLimits are 3 codes per 15 minutes and 10 per day.
var DefaultSendLimits = []SendLimit{{Max: 3, Window: 15 * time.Minute}, {Max: 10, Window: 24 * time.Hour}}

// Factor reset states.
const (
	ResetPending  = "pending"
	ResetApproved = "approved"
)

// FactorReset is an administrator's request to remove all of a user's
// second factors, which a second administrator must approve.
type FactorReset struct {
	ID          string
	UserID      string
	RequestedBy string
	Reason      string
	Status      string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	ApprovedBy  string
	ApprovedAt  time.Time
}

// RecoveryLink is a one-time enrollment link created by an approved reset.
type RecoveryLink struct {
	// TokenHash is HashToken of the link's token.
	TokenHash string
	UserID    string
	ResetID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Notification is a message to a user about a change to their account.
type Notification struct {
	ID     string
	UserID string
	// Kind is factor.added, factor.removed, factors.reset,
	// backup_code.used or sms.number_changed.
	Kind string
	// AuditSeq is the audit event the notification tells of (0 if none).
	AuditSeq int64
	// Phone, when set, is where the message goes by SMS; otherwise it
	// goes to the notification outbox.
	Phone     string
	Body      string
	CreatedAt time.Time
	SentAt    time.Time
	// Channel is "sms" or "outbox" once sent.
	Channel   string
	Attempts  int
	LastError string
}

// RecoveryStore keeps SMS codes, factor resets, recovery links and
// notifications. Like Store, every change is written together with its
// audit events in one transaction.
type RecoveryStore interface {
	// ReserveSMSCode stores c in state SMSReserved unless c's user or c's
	// number already had Max codes within a limit's Window; then it
	// returns ERATELIMIT with RetryAfter. Concurrent reservations for the
	// same user or number are serialized, so none slips past a limit.
	ReserveSMSCode(ctx context.Context, c *SMSCode, limits []SendLimit) error
	// FinishSMSCode settles a reserved code: SMSSent makes it the only
	// valid code of its user and purpose, SMSRefused keeps it counted but
	// never valid, SMSFailed removes it. ENOTFOUND for no reserved code.
	FinishSMSCode(ctx context.Context, id, state string, evs ...audit.Event) error
	// LatestSMSCode returns the user's valid code for purpose at now
	// (sent, unused, unexpired); ENOTFOUND when there is none.
	LatestSMSCode(ctx context.Context, userID, purpose string, now time.Time) (*SMSCode, error)
	// UseSMSCode marks the code used unless it was used, replaced or
	// expired by at, and reports whether it did: the one place that makes
	// a code single-use across processes.
	UseSMSCode(ctx context.Context, id string, at time.Time) (bool, error)
	// ConfirmSMSFactor confirms the SMS factor id and, when replaces is
	// not empty, deletes that factor (a number change), storing notes.
	// ECONFLICT when id was already confirmed.
	ConfirmSMSFactor(ctx context.Context, id, replaces string, notes []Notification, evs ...audit.Event) error

	// CreateFactorReset stores r with a new ID.
	CreateFactorReset(ctx context.Context, r *FactorReset, evs ...audit.Event) error
	// FactorReset returns ENOTFOUND when there is no such request.
	FactorReset(ctx context.Context, id string) (*FactorReset, error)
	// FactorResets lists requests created since since, newest first.
	FactorResets(ctx context.Context, since time.Time) ([]*FactorReset, error)
	// ApproveFactorReset approves the pending request id for approverID
	// at at, if it is still pending, unexpired, and neither requested by
	// nor about approverID; then it removes the user's factors, backup
	// codes and sessions and stores link. ECONFLICT otherwise.
	ApproveFactorReset(ctx context.Context, id, approverID string, at time.Time, link *RecoveryLink, evs ...audit.Event) error
	// RecoveryLink returns the link whose token hashes to tokenHash;
	// ENOTFOUND when there is none.
	RecoveryLink(ctx context.Context, tokenHash string) (*RecoveryLink, error)
	// UseRecoveryLink marks the link used, if unused and unexpired at
	// sess.CreatedAt, and stores sess. ECONFLICT otherwise.
	UseRecoveryLink(ctx context.Context, tokenHash string, sess *Session, evs ...audit.Event) error

	// NotificationCursor returns the last audit sequence number turned
	// into notifications.
	NotificationCursor(ctx context.Context) (int64, error)
	// AddNotifications stores notes and moves the cursor from from to to,
	// if it still is at from (another process may have done it); it
	// reports whether it did.
	AddNotifications(ctx context.Context, from, to int64, notes []Notification) (bool, error)
	// PendingNotifications returns up to limit unsent notifications tried
	// fewer than maxAttempts times, oldest first.
	PendingNotifications(ctx context.Context, maxAttempts, limit int) ([]*Notification, error)
	// MarkNotification records a delivery attempt: sent over channel at
	// at, or failed with errCode when channel is empty.
	MarkNotification(ctx context.Context, id, channel, errCode string, at time.Time) error
	// Notifications lists a user's notifications, oldest first.
	Notifications(ctx context.Context, userID string) ([]*Notification, error)
}
