package auth

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/risk"
)

// Security events: every signal of an attempted unauthorized access is
// counted (ordergate_security_events_total{kind}) and kept in the audit
// log as an event whose action is SecurityActionPrefix + kind, next to the
// event of the attempt itself. Most are events: the attempt was stopped.
// An incident is a security event that means a credential or a session was
// in the wrong hands, whatever stopped it: a cloned security key, or a
// sign-in an administrator reported as compromised. The target is fewer
// than one incident per calendar quarter.

// Security event kinds.
const (
	// SecurityRiskDenied is a sign-in the risk engine denied.
	SecurityRiskDenied = "risk_denied"
	// SecurityLoginThrottled is a password attempt (sign-in, recovery
	// link, password change) refused by the throttle.
	SecurityLoginThrottled = "login_throttled"
	// SecurityFactorThrottled is a second-factor attempt refused by the
	// throttle.
	SecurityFactorThrottled = "second_factor_throttled"
	// SecurityCodeReplayed is a one-time code presented again: a TOTP time
	// step or a backup code that was already used.
	SecurityCodeReplayed = "code_replayed"
	// SecurityKeyCloned is a security key whose signature counter went
	// backwards (an incident).
	SecurityKeyCloned = "key_cloned"
	// SecurityForwardAuthDenied is a forward-auth request refused for a
	// reason signing in or stepping up would not cure: no rule for the
	// host, a deny rule, or a missing role.
	SecurityForwardAuthDenied = "forward_auth_denied"
	// SecurityAdminNewCountry is an administrator signing in from a
	// country none of their past sign-ins came from.
	SecurityAdminNewCountry = "admin_new_country"
	// SecurityCompromised is a sign-in an administrator reported as
	// compromised, ending the user's sessions (an incident).
	SecurityCompromised = "session_compromised"
)

// SecurityActionPrefix starts the audit action of every security event.
const SecurityActionPrefix = "security."

// SecurityKinds lists every security event kind.
var SecurityKinds = []string{SecurityRiskDenied, SecurityLoginThrottled, SecurityFactorThrottled, SecurityCodeReplayed,
	SecurityKeyCloned, SecurityForwardAuthDenied, SecurityAdminNewCountry, SecurityCompromised}

// IncidentKinds are the security event kinds that count as incidents.
var IncidentKinds = []string{SecurityKeyCloned, SecurityCompromised}

// IncidentTarget is the goal for incidents per quarter, as the dashboard
// shows it.
const IncidentTarget = "< 1 per quarter"

// SecuritySink counts security events as they happen; web.Metrics is one.
type SecuritySink interface {
	// SecurityEvent counts one event of kind.
	SecurityEvent(kind string)
}

// securityEvent returns the audit event of a security event of kind.
func securityEvent(at time.Time, kind string, actor ordergate.Actor, subjectID string, data map[string]any) audit.Event {
	outcome := audit.OutcomeDenied
	if kind == SecurityAdminNewCountry || kind == SecurityCompromised {
		outcome = audit.OutcomeOK // recorded, not refused
	}
	return audit.Event{At: at, Action: SecurityActionPrefix + kind, Outcome: outcome, Actor: actor, SubjectID: subjectID, Data: data}
}

// counted tells the sink about an event of kind whose audit event was
// stored; the caller logs it.
func (s *Service) counted(kind string) {
	if s.Security != nil {
		s.Security.SecurityEvent(kind)
	}
}

// RecordSecurityEvent stores a security event of kind on behalf of actor
// about the user subjectID (may be empty) and counts it. EINVALID for an
// unknown kind.
func (s *Service) RecordSecurityEvent(ctx context.Context, kind string, actor ordergate.Actor, subjectID string, data map[string]any) error {
	if !slices.Contains(SecurityKinds, kind) {
		return ordergate.Errorf(ordergate.EINVALID, "unknown security event kind %q", kind)
	}
	if err := s.Store.AppendAudit(ctx, securityEvent(s.Clock.Now(), kind, actor, subjectID, data)); err != nil {
		return err
	}
	s.counted(kind)
	return nil
}

// throttleKind is the security event kind of a throttled step.
func throttleKind(step string) string {
	switch step {
	case "login", "recovery.accept", "password.change":
		return SecurityLoginThrottled
	}
	return SecurityFactorThrottled
}

// QuarterStart is the first instant, in UTC, of t's calendar quarter.
func QuarterStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
}

// maxSecurityEvents bounds one listing of security events.
const maxSecurityEvents = 1000

// SecurityEventLog returns the security events since since, newest first,
// at most limit (1 to 1000), for an administrator or auditor.
func (s *Service) SecurityEventLog(ctx context.Context, actor ordergate.Actor, since time.Time, limit int) ([]audit.Event, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), maxSecurityEvents)
	var out []audit.Event
	for _, kind := range SecurityKinds {
		evs, err := s.adminStore().AuditEvents(ctx, audit.Filter{Action: SecurityActionPrefix + kind, Since: since, Limit: limit})
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	slices.SortFunc(out, func(a, b audit.Event) int { return cmp.Compare(b.Seq, a.Seq) })
	return out[:min(len(out), limit)], nil
}

// IncidentsThisQuarter counts the incidents (IncidentKinds) in the audit
// log since the start of the current calendar quarter, for an
// administrator or auditor.
func (s *Service) IncidentsThisQuarter(ctx context.Context, actor ordergate.Actor) (int, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return 0, err
	}
	since := QuarterStart(s.Clock.Now())
	n := 0
	for _, kind := range IncidentKinds {
		f := audit.Filter{Action: SecurityActionPrefix + kind, Since: since, Limit: maxSecurityEvents}
		for {
			evs, err := s.adminStore().AuditEvents(ctx, f)
			if err != nil {
				return 0, err
			}
			n += len(evs)
			if len(evs) < f.Limit {
				break
			}
			f.Before = evs[len(evs)-1].Seq
		}
	}
	return n, nil
}

// ReportCompromise records, on behalf of an administrator, that user id's
// sign-ins were in the wrong hands: all of the user's sessions end, no
// browser may skip the second factor any more, and the report counts as
// an incident. ENOTFOUND for an unknown user.
func (s *Service) ReportCompromise(ctx context.Context, actor ordergate.Actor, id, note string) error {
	if err := s.RevokeSessions(ctx, actor, id); err != nil {
		return err
	}
	if err := s.ForgetRememberedDevices(ctx, actor, id, "compromised"); err != nil {
		return err
	}
	data := map[string]any{}
	if note != "" {
		data["note"] = note
	}
	return s.RecordSecurityEvent(ctx, SecurityCompromised, actor, id, data)
}

// adminNewCountry returns the security event of an administrator signing
// in, in session sess, from a country none of their past sign-ins came
// from, when lr shows one.
func adminNewCountry(u *User, sess *Session, lr *LoginRisk) (audit.Event, bool) {
	if lr == nil || !slices.Contains(u.Roles, RoleAdmin) ||
		!slices.ContainsFunc(lr.Assessment.Factors, func(f risk.Factor) bool { return f.Reason == risk.ReasonNewCountry }) {
		return audit.Event{}, false
	}
	return securityEvent(lr.Record.At, SecurityAdminNewCountry, UserActor(u, sess), u.ID,
		map[string]any{"country": lr.Record.Location.Country, "client_ip": lr.Record.ClientIP}), true
}
