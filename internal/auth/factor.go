package auth

import (
	"context"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
)

// Factor is an enrolled second factor.
type Factor struct {
	ID     string
	UserID string
	// Type is a method name (totp, webauthn or sms) or hotp, a hardware
	// HOTP token, which counts as the totp method.
	Type string
	Name string
	// Secret is the sealed secret (a TOTP or HOTP seed); never plaintext.
	Secret []byte
	// Params holds type-specific settings as JSON (TOTP algorithm, digits…).
	Params    []byte
	Confirmed bool
	// LastUsedStep is the last accepted TOTP time step or HOTP counter
	// (replay guard; -1 for an HOTP token whose first code is counter 0).
	LastUsedStep int64
	CreatedAt    time.Time
	LastUsedAt   time.Time
}

// BackupCode is one stored look-up secret.
type BackupCode struct {
	ID     string
	UserID string
	// Lookup is a short, non-secret prefix used to find the row.
	Lookup string
	// Hash is the code's argon2id PHC string.
	Hash string
	// UsedAt is when the code was used; zero while it is unused.
	UsedAt time.Time
}

// FactorStore keeps second factors and backup codes.
type FactorStore interface {
	// CreateFactor stores f with a new ID.
	CreateFactor(ctx context.Context, f *Factor, evs ...audit.Event) error
	// Factor returns ENOTFOUND unless the factor exists and belongs to userID.
	Factor(ctx context.Context, userID, id string) (*Factor, error)
	// Factors lists a user's factors, oldest first.
	Factors(ctx context.Context, userID string) ([]*Factor, error)
	// ConfirmFactor marks the factor confirmed and records step as used.
	// ECONFLICT when it was already confirmed.
	ConfirmFactor(ctx context.Context, id string, step int64, evs ...audit.Event) error
	// UseTOTPStep records step (or an HOTP counter) as used on the factor
	// if it is later than the last one used, and reports whether it was. This is the one place
	// that makes a code single-use, across every process sharing the
	// database.
	UseTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error)
	// RenameFactor sets a factor's name.
	RenameFactor(ctx context.Context, userID, id, name string, evs ...audit.Event) error
	// DeleteFactor removes a factor; ENOTFOUND when it is not the user's.
	DeleteFactor(ctx context.Context, userID, id string, evs ...audit.Event) error
	// UpdateFactorSecret replaces a factor's sealed secret (key rotation).
	UpdateFactorSecret(ctx context.Context, id string, sealed []byte) error
	// AllFactorSecrets calls fn for every factor with a secret.
	AllFactorSecrets(ctx context.Context, fn func(id, typ string, sealed []byte) error) error

	// ReplaceBackupCodes removes a user's codes and stores codes.
	ReplaceBackupCodes(ctx context.Context, userID string, codes []BackupCode, evs ...audit.Event) error
	// BackupCodeCandidates returns the user's codes with lookup, used
	// ones too (with UsedAt), so that a replayed code can be told apart.
	BackupCodeCandidates(ctx context.Context, userID, lookup string) ([]BackupCode, error)
	// UseBackupCode marks the code used unless it already was, and
	// returns whether it did and how many unused codes remain.
	UseBackupCode(ctx context.Context, id string, at time.Time, evs ...audit.Event) (used bool, left int, err error)
	// BackupCodesLeft counts a user's unused codes.
	BackupCodesLeft(ctx context.Context, userID string) (int, error)

	// UpdateSessionAuth replaces a session's authentication context (a
	// step-up at the same assurance level).
	UpdateSessionAuth(ctx context.Context, s *Session, evs ...audit.Event) error

	// EnrolledMethods returns, per user ID, the methods of the user's
	// confirmed factors (a hardware HOTP token counts as totp).
	EnrolledMethods(ctx context.Context) (map[string][]string, error)
	// SaveAdoption records a day's adoption per role (day is YYYY-MM-DD).
	SaveAdoption(ctx context.Context, day string, roles []RoleAdoption) error
	// AdoptionHistory returns recorded days since day, oldest first.
	AdoptionHistory(ctx context.Context, since string) ([]AdoptionDay, error)
}
