package ordergate

import (
	"context"
	"time"
)

// AAL is a NIST SP 800-63B authenticator assurance level.
type AAL int

// Assurance levels. AALNone marks a pending session that has not finished
// authenticating and may only complete the second factor or enrollment.
const (
	AALNone AAL = 0
	AAL1    AAL = 1
	AAL2    AAL = 2
	AAL3    AAL = 3
)

// Authentication method references (RFC 8176 values where one exists).
const (
	AMRPassword = "pwd"  // a memorized secret
	AMROTP      = "otp"  // a TOTP or HOTP code
	AMRSMS      = "sms"  // a code sent by SMS
	AMRHardware = "hwk"  // a hardware-bound key
	AMRSoftware = "swk"  // a software or synced key (passkey)
	AMRUser     = "user" // user verification (PIN or biometric) on the authenticator
	AMRBackup   = "kba"  // a backup (look-up) code
)

// AuthContext is how a session was authenticated: what NIST and SOC 2
// evidence needs to tie an action to a verified person.
type AuthContext struct {
	AAL AAL `json:"aal"`
	// AMR lists the methods used, in order.
	AMR []string `json:"amr"`
	// AuthTime is when the session was first authenticated.
	AuthTime time.Time `json:"auth_time"`
	// FactorTimes records when each method in AMR was last proven.
	FactorTimes map[string]time.Time `json:"factor_times,omitempty"`
	ClientIP    string               `json:"client_ip,omitempty"`
	UserAgent   string               `json:"user_agent,omitempty"`
	// SessionID identifies the session by a hash; never the token itself.
	SessionID string `json:"session_id,omitempty"`
	// Risk holds the risk decision's reasons when one was made.
	Risk []string `json:"risk,omitempty"`
}

// SecondFactorAt returns the latest time a factor other than the password
// was proven, or the zero time when none was.
func (c AuthContext) SecondFactorAt() time.Time {
	var t time.Time
	for m, at := range c.FactorTimes {
		if m != AMRPassword && at.After(t) {
			t = at
		}
	}
	return t
}

// Actor is who performs an action: a verified person with a session, a
// channel source, or the system itself.
type Actor struct {
	Kind  string      `json:"kind"` // "user", "source" or "system"
	ID    string      `json:"id,omitempty"`
	Name  string      `json:"name,omitempty"`
	Roles []string    `json:"roles,omitempty"`
	Auth  AuthContext `json:"auth"`
}

// Actor kinds.
const (
	ActorUser   = "user"
	ActorSource = "source"
	ActorSystem = "system"
)

// HasRole reports whether the actor holds role.
func (a Actor) HasRole(role string) bool {
	for _, r := range a.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// SystemActor is the actor for work the server does on its own.
var SystemActor = Actor{Kind: ActorSystem, Name: "system"}

type actorKey struct{}

// WithActor returns a context carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
