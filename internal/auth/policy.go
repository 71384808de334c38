package auth

import (
	"net/netip"
	"slices"
	"time"
)

// Second-factor method names, as the API and configuration use them.
const (
	MethodTOTP       = "totp"
	MethodWebAuthn   = "webauthn"
	MethodSMS        = "sms"
	MethodBackupCode = "backup_code"
)

// Phase is one step of a rollout: from EnforceFrom plus Grace, users with
// one of Roles ("*" for everyone) must have one of Methods.
type Phase struct {
	Roles       []string
	Methods     []string
	EnforceFrom time.Time
	Grace       time.Duration
}

// Deadline is when the phase stops accepting "later".
func (p Phase) Deadline() time.Time { return p.EnforceFrom.Add(p.Grace) }

func (p Phase) applies(u *User) bool {
	return slices.Contains(p.Roles, "*") || slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(p.Roles, r) })
}

// Policy decides who needs a second factor and which methods count.
type Policy struct {
	// MandatoryRoles need a second factor at every login.
	MandatoryRoles []string
	// PhishingResistantRoles may only use WebAuthn as second factor.
	PhishingResistantRoles []string
	Rollout                []Phase
	// TrustedNetworks are inside; any other address is remote access and
	// needs a second factor whatever the role.
	TrustedNetworks []netip.Prefix
	// Available lists the methods this server offers; nil means all.
	Available []string
	// SMSForbiddenRoles may not use SMS codes.
	SMSForbiddenRoles []string
}

// Requirement is the policy's answer for one login.
type Requirement struct {
	// Need is true when this login must pass a second factor.
	Need bool
	// Reasons explain Need, e.g. "role:admin", "remote_access", "rollout".
	Reasons []string
	// Methods are the second factors the user may use.
	Methods []string
	// Deadline is the end of the grace period of a rollout phase that the
	// user must still meet (zero when none).
	Deadline time.Time
	// Reminder is true when a deadline is coming but has not passed.
	Reminder bool
	// Grace is true when a rollout phase is enforced but its grace period
	// runs: the user should enroll now and may put it off a few times.
	Grace bool
}

// DefaultPolicy is the policy without a configuration file: admins and
// approvers need a second factor at every login, and so does everyone
// connecting from outside the loopback network.
func DefaultPolicy() Policy {
	return Policy{MandatoryRoles: []string{RoleAdmin, RoleApprover},
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

// AllMethods lists every second-factor method, strongest first.
var AllMethods = []string{MethodWebAuthn, MethodTOTP, MethodSMS, MethodBackupCode}

// Require returns what the policy demands of u signing in from ip at now.
// enrolled lists the methods u has confirmed.
func (p Policy) Require(u *User, ip string, enrolled []string, now time.Time) Requirement {
	var r Requirement
	for _, role := range u.Roles {
		if slices.Contains(p.MandatoryRoles, role) {
			r.Need = true
			r.Reasons = append(r.Reasons, "role:"+role)
		}
	}
	if !p.Trusted(ip) {
		r.Need = true
		r.Reasons = append(r.Reasons, "remote_access")
	}
	allowed := map[string]bool{}
	for _, ph := range p.Rollout {
		if !ph.applies(u) {
			continue
		}
		for _, m := range ph.Methods {
			allowed[m] = true
		}
		if slices.ContainsFunc(ph.Methods, func(m string) bool { return slices.Contains(enrolled, m) }) {
			continue
		}
		if !now.Before(ph.Deadline()) {
			r.Need = true
			r.Reasons = append(r.Reasons, "rollout:"+ph.EnforceFrom.Format(time.DateOnly))
		} else {
			if r.Deadline.IsZero() || ph.Deadline().Before(r.Deadline) {
				r.Deadline, r.Reminder = ph.Deadline(), true
			}
			if !now.Before(ph.EnforceFrom) {
				r.Grace = true
			}
		}
	}
	if len(enrolled) > 0 && !r.Need {
		// A user who enrolled a factor always uses it.
		r.Need = true
		r.Reasons = append(r.Reasons, "enrolled")
	}
	r.Methods = p.Methods(u, allowed)
	return r
}

// Methods returns the second-factor methods u may use or enroll: only
// WebAuthn for phishing-resistant roles; otherwise every method, or, when
// rollout phases name methods for u, those and backup codes. SMS is left
// out for SMSForbiddenRoles and whenever neither TOTP nor WebAuthn is in.
func (p Policy) Methods(u *User, rollout map[string]bool) []string {
	phishingResistant := slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(p.PhishingResistantRoles, r) })
	var out []string
	for _, m := range AllMethods {
		switch {
		case p.Available != nil && !slices.Contains(p.Available, m):
		case phishingResistant && m != MethodWebAuthn:
		case len(rollout) > 0 && !rollout[m] && m != MethodBackupCode:
		case m == MethodSMS && slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(p.SMSForbiddenRoles, r) }):
		default:
			out = append(out, m)
		}
	}
	// SMS is a restricted authenticator: offered only beside one that is
	// not (NIST SP 800-63B §5.2.10), never as the only choice.
	if !slices.Contains(out, MethodTOTP) && !slices.Contains(out, MethodWebAuthn) {
		out = slices.DeleteFunc(out, func(m string) bool { return m == MethodSMS })
	}
	return out
}

// Trusted reports whether ip is inside a trusted network.
func (p Policy) Trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range p.TrustedNetworks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}
