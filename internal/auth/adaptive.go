package auth

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/risk"
)

// Locator finds where a client address is; the geoip package implements it.
type Locator interface {
	// Locate returns the address's country and location, false when unknown.
	Locate(a netip.Addr) (risk.Location, bool)
}

// Adaptive configures risk-based authentication. A Service without one
// decides by policy alone.
type Adaptive struct {
	Engine *risk.Engine
	Store  RiskStore
	// Locator, when set, gives the country signals; nil turns them off.
	Locator Locator
	// RememberRoles may skip the second factor on a remembered device.
	// Roles in Policy.MandatoryRoles only when listed here; roles in
	// Policy.PhishingResistantRoles never.
	RememberRoles []string
	// RememberFor is how long "trust this browser" lasts. It is capped at
	// the AAL1 absolute session limit (NIST SP 800-63B: 30 days), the
	// longest a single-factor login may last without reauthenticating.
	RememberFor time.Duration
	// History is how many past logins the engine looks at (default 50).
	History int
}

// Reasons that are not risk scores but explain a login answer.
const (
	ReasonRememberedDevice = "remembered_device"
	// ReasonPhishingResistantUnavailable marks a denial because the risk
	// demanded WebAuthn and the user has none they may use from here.
	ReasonPhishingResistantUnavailable = "risk:phishing_resistant_unavailable"
	// ReasonEnrollmentRefused marks a denial because the risk demanded a
	// second factor the user has not enrolled, from where enrollment is
	// not allowed.
	ReasonEnrollmentRefused = "risk:enrollment_not_allowed_here"
)

// LoginRisk is the risk side of one login: the assessment, and what it was
// made from.
type LoginRisk struct {
	Assessment risk.Assessment
	Record     LoginRecord
	// Device is the known device the client's cookie names, if any.
	Device *Device
	// DeviceID is the device identifier the client should keep in its
	// device cookie: its own when it sent a valid one, else a new one.
	DeviceID string
}

// Reasons returns the assessment's reasons; nil for a nil LoginRisk.
func (r *LoginRisk) Reasons() []string {
	if r == nil {
		return nil
	}
	return r.Assessment.Reasons()
}

// NewDeviceID returns a new random device identifier.
func NewDeviceID() string { return "dev_" + NewToken()[:22] }

// assessLogin gathers u's signals for a login from c and weighs them. It
// returns nil when adaptive authentication is off.
func (s *Service) assessLogin(ctx context.Context, u *User, c Client, now time.Time) (*LoginRisk, error) {
	a := s.Adaptive
	if a == nil {
		return nil, nil
	}
	addr, _ := netip.ParseAddr(c.IP)
	network := risk.Network(addr)
	lr := &LoginRisk{DeviceID: c.DeviceID}
	if lr.DeviceID == "" {
		lr.DeviceID = NewDeviceID()
	}
	n := a.History
	if n <= 0 {
		n = 50
	}
	p, err := a.Store.RiskProfile(ctx, u.ID, lr.DeviceID, network.String(), n, now.Add(-AccountThrottle.Reset))
	if err != nil {
		return nil, err
	}
	lr.Device = p.Device
	addrLock, err := s.Store.ThrottleState(ctx, "login:ip:"+c.IP)
	if err != nil {
		return nil, err
	}
	// An unknown client address (a proxy that did not say) is never a
	// known network.
	sig := risk.Signals{DeviceKnown: p.Device != nil, NetworkKnown: p.NetworkKnown && network.IsValid(), Remote: !s.Policy.Trusted(c.IP),
		AccountFailures: p.Failures, AddressFailures: addrLock.Failures}
	if a.Locator != nil && addr.IsValid() {
		sig.Location, _ = a.Locator.Locate(addr)
	}
	for _, h := range p.History {
		sig.History = append(sig.History, risk.Login{At: h.At, Location: h.Location})
	}
	lr.Assessment = a.Engine.Assess(sig)
	lr.Record = LoginRecord{UserID: u.ID, At: now, ClientIP: c.IP, Network: network.String(), DeviceID: lr.DeviceID, Location: sig.Location}
	return lr, nil
}

// applyRisk makes req at least as strict as the risk assessment. It
// returns an EDENIED error, after recording the denial, when the risk
// denies; and it lets a remembered device skip the second factor when the
// risk is low and the policy allows it.
func (s *Service) applyRisk(ctx context.Context, u *User, c Client, lr *LoginRisk, req *Requirement, now time.Time) error {
	if lr == nil {
		return nil
	}
	a := lr.Assessment
	if a.Decision.AtLeast(risk.PhishingResistant) && lr.Device.Remembered(now) {
		// A high-risk signal ends "trust this browser" for every browser.
		ev := audit.Event{At: now, Action: "device.forget_all", Outcome: audit.OutcomeOK, Actor: anonymous(c), SubjectID: u.ID,
			Data: map[string]any{"reason": "high_risk", "score": a.Score}}
		if _, err := s.Adaptive.Store.ForgetRememberedDevices(ctx, u.ID, ev); err != nil {
			return err
		}
		lr.Device.RememberedUntil = time.Time{}
	}
	switch a.Decision {
	case risk.Deny:
		return s.denyLogin(ctx, u, c, lr, a.Reasons())
	case risk.SecondFactor, risk.PhishingResistant:
		req.Need = true
		req.Reasons = append(req.Reasons, a.Reasons()...)
		if a.Decision == risk.PhishingResistant {
			req.Methods = slices.DeleteFunc(slices.Clone(req.Methods), func(m string) bool { return m != MethodWebAuthn })
		}
		return nil
	}
	if req.Need && s.mayRemember(u, req.Reasons) && lr.Device.Remembered(now) && lr.Assessment.Score == 0 {
		req.Need = false
		req.Reasons = append(req.Reasons, ReasonRememberedDevice)
	}
	// The login answer explains itself even when the risk allows.
	req.Reasons = append(req.Reasons, a.Reasons()...)
	return nil
}

// mayRemember reports whether a remembered device may stand in for the
// second factor that reasons demand of u: never for remote access, never
// for phishing-resistant roles, and for mandatory roles only when they are
// listed in RememberRoles.
func (s *Service) mayRemember(u *User, reasons []string) bool {
	a := s.Adaptive
	if a == nil || !slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(a.RememberRoles, r) }) {
		return false
	}
	if slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(s.Policy.PhishingResistantRoles, r) }) {
		return false
	}
	for _, r := range reasons {
		switch {
		case r == "enrolled":
		case len(r) > 5 && r[:5] == "role:":
			if !slices.Contains(a.RememberRoles, r[5:]) {
				return false
			}
		default: // remote_access, rollout deadlines, anything new
			return false
		}
	}
	return true
}

// mayEnrollUnderRisk reports whether a user without a usable factor may be
// sent to enrollment when the risk engine demanded a second factor, and
// the reason for refusing when not. A user who has factors but none the
// risk accepts (a phishing-resistant demand met with only TOTP) is never
// sent to enroll on a password alone. Someone with no factor may enroll
// from a trusted network, or where the policy itself demanded the second
// factor and so already allows enrolling from there.
func (s *Service) mayEnrollUnderRisk(lr *LoginRisk, policyNeed bool, ip string, methods, enrolled []string) (bool, string) {
	if lr == nil || lr.Assessment.Decision == risk.Allow {
		return true, ""
	}
	if len(methods) == 0 || len(enrolled) > 0 {
		return false, ReasonPhishingResistantUnavailable
	}
	if !policyNeed && !s.Policy.Trusted(ip) {
		return false, ReasonEnrollmentRefused
	}
	return true, ""
}

// denyLogin records a login the risk denies and returns the EDENIED error
// the client sees, with the reasons.
func (s *Service) denyLogin(ctx context.Context, u *User, c Client, lr *LoginRisk, reasons []string) error {
	now := lr.Record.At
	lr.Record.Outcome = OutcomeDenied
	ev := audit.Event{At: now, Action: "login", Outcome: audit.OutcomeDenied, Actor: anonymous(c), SubjectID: u.ID,
		Data: map[string]any{"username": u.Username, "reasons": reasons, "score": lr.Assessment.Score}}
	sec := securityEvent(now, SecurityRiskDenied, anonymous(c), u.ID, map[string]any{"reasons": reasons, "score": lr.Assessment.Score})
	if err := s.Adaptive.Store.RecordLoginRisk(ctx, &lr.Record, s.decision(u, c, "login", lr.Assessment, lr.Record.Location), ev, sec); err != nil {
		return err
	}
	s.counted(SecurityRiskDenied)
	s.Log.Warn("login denied by risk", "event", "login.risk_denied", "user_id", u.ID, "client_ip", c.IP,
		"score", lr.Assessment.Score, "reasons", reasons)
	return &ordergate.Error{Code: ordergate.EDENIED, Message: "sign-in denied from here; contact your administrator",
		Details: map[string]any{"reasons": reasons}}
}

func (s *Service) decision(u *User, c Client, action string, a risk.Assessment, loc risk.Location) *RiskDecision {
	return &RiskDecision{At: s.Clock.Now(), UserID: u.ID, Username: u.Username, Action: action, ClientIP: c.IP,
		Country: loc.Country, Score: a.Score, Decision: a.Decision, Reasons: a.Reasons(), Factors: a.Factors}
}

// recordLoginRisk stores a login that got past the risk engine, with its
// decision and an audit event explaining it. A login that needs nothing
// more is completed at once; others complete with their second factor.
func (s *Service) recordLoginRisk(ctx context.Context, u *User, sess *Session, c Client, res *LoginResult) error {
	lr := res.Risk
	if lr == nil || s.Adaptive == nil {
		return nil
	}
	lr.Record.Outcome, lr.Record.SessionID = res.State, sess.Auth.SessionID
	lr.Record.Completed = res.State == LoginAuthenticated
	ev := audit.Event{At: lr.Record.At, Action: "risk.assessed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"action": "login", "score": lr.Assessment.Score, "decision": string(lr.Assessment.Decision),
			"reasons": lr.Assessment.Reasons(), "country": lr.Record.Location.Country, "new_device": lr.Device == nil}}
	evs := []audit.Event{ev}
	sec, newCountry := adminNewCountry(u, sess, lr)
	if newCountry {
		evs = append(evs, sec)
	}
	if err := s.Adaptive.Store.RecordLoginRisk(ctx, &lr.Record, s.decision(u, c, "login", lr.Assessment, lr.Record.Location), evs...); err != nil {
		return err
	}
	if newCountry {
		s.counted(SecurityAdminNewCountry)
		s.Log.Warn("administrator signs in from a new country", "event", sec.Action, "user_id", u.ID, "client_ip", c.IP,
			"country", lr.Record.Location.Country)
	}
	if lr.Record.Completed && c.UserAgent != "" {
		// Learn the browser's description for the device list.
		return s.Adaptive.Store.ConfirmLoginRisk(ctx, u.ID, sess.Auth.SessionID, c.UserAgent, lr.Record.At)
	}
	return nil
}

// recordFailedLogin notes a wrong password for a known user, so that the
// recent-failures signal counts it.
func (s *Service) recordFailedLogin(ctx context.Context, u *User, c Client, now time.Time) error {
	if s.Adaptive == nil || u == nil {
		return nil
	}
	addr, _ := netip.ParseAddr(c.IP)
	l := &LoginRecord{UserID: u.ID, At: now, ClientIP: c.IP, Network: risk.Network(addr).String(), DeviceID: c.DeviceID, Outcome: OutcomeFailed}
	return s.Adaptive.Store.RecordLoginRisk(ctx, l, nil)
}

// loginConfirmation is what completes the login of session sess once its
// second factor is proven (its network and device become known), or nil
// when the risk engine is off.
func (s *Service) loginConfirmation(u *User, sess *Session) *LoginConfirmation {
	if s.Adaptive == nil {
		return nil
	}
	return &LoginConfirmation{UserID: u.ID, SessionID: sess.Auth.SessionID, UserAgent: sess.Auth.UserAgent, At: s.Clock.Now()}
}

// RememberDevice lets the browser deviceID skip the second factor for the
// configured days, where policy allows it for u: the session must have
// just proven a second factor, and u's roles must allow remembering.
func (s *Service) RememberDevice(ctx context.Context, sess *Session, u *User, deviceID string) (time.Time, error) {
	a := s.Adaptive
	if a == nil || a.RememberFor <= 0 || deviceID == "" {
		return time.Time{}, ordergate.Errorf(ordergate.EFORBIDDEN, "remembering browsers is off")
	}
	remember := s.RememberDeviceFor(u)
	if sess.State != StateActive || sess.Auth.AAL < ordergate.AAL2 || remember <= 0 {
		return time.Time{}, ordergate.Errorf(ordergate.EFORBIDDEN, "your role may not skip the second factor on this browser")
	}
	now := s.Clock.Now()
	if now.Sub(sess.Auth.SecondFactorAt()) > 5*time.Minute {
		return time.Time{}, stepUpError([]string{MethodWebAuthn, MethodTOTP}, 5*time.Minute)
	}
	until := now.Add(remember)
	ev := audit.Event{At: now, Action: "device.remembered", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"device_id": deviceID, "until": until}}
	if err := a.Store.RememberDevice(ctx, u.ID, deviceID, until, ev); err != nil {
		return time.Time{}, err
	}
	return until, nil
}

// RememberDeviceFor is how long "trust this browser" lasts for u, or zero
// when policy does not let u's browsers stand in for the second factor.
// RememberDevice makes the same check; pages use it to offer the choice.
func (s *Service) RememberDeviceFor(u *User) time.Duration {
	a := s.Adaptive
	if a == nil || a.RememberFor <= 0 || !s.mayRemember(u, s.mandatoryReasons(u)) {
		return 0
	}
	return min(a.RememberFor, s.Sessions.AAL1.Absolute)
}

// mandatoryReasons are the policy reasons u always carries.
func (s *Service) mandatoryReasons(u *User) []string {
	var out []string
	for _, r := range u.Roles {
		if slices.Contains(s.Policy.MandatoryRoles, r) {
			out = append(out, "role:"+r)
		}
	}
	return out
}

// Devices lists userID's known browsers, for the user or an administrator.
func (s *Service) Devices(ctx context.Context, userID string) ([]*Device, error) {
	if s.Adaptive == nil {
		return nil, nil
	}
	return s.Adaptive.Store.Devices(ctx, userID)
}

// ForgetDevice removes one of userID's browsers on behalf of actor: the
// next login from it counts as a new device. ENOTFOUND when unknown.
func (s *Service) ForgetDevice(ctx context.Context, actor ordergate.Actor, userID, deviceID string) error {
	if s.Adaptive == nil {
		return ordergate.Errorf(ordergate.ENOTFOUND, "device not found")
	}
	ev := audit.Event{At: s.Clock.Now(), Action: "device.forgotten", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: userID,
		Data: map[string]any{"device_id": deviceID}}
	return s.Adaptive.Store.ForgetDevice(ctx, userID, deviceID, ev)
}

// ForgetRememberedDevices ends "trust this browser" for all of userID's
// browsers (after a password change or a factor reset), on behalf of actor.
func (s *Service) ForgetRememberedDevices(ctx context.Context, actor ordergate.Actor, userID, reason string) error {
	if s.Adaptive == nil {
		return nil
	}
	ev := audit.Event{At: s.Clock.Now(), Action: "device.forget_all", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: userID,
		Data: map[string]any{"reason": reason}}
	_, err := s.Adaptive.Store.ForgetRememberedDevices(ctx, userID, ev)
	return err
}

// RiskDecisions returns the newest risk decisions, at most limit.
func (s *Service) RiskDecisions(ctx context.Context, limit int) ([]*RiskDecision, error) {
	if s.Adaptive == nil {
		return nil, nil
	}
	return s.Adaptive.Store.RiskDecisions(ctx, limit)
}

// AssessAction weighs the signals of a sensitive order action by the
// actor's session: remote access and an amount far above the actor's past
// approvals (pastAmounts, same currency). It records the decision and
// returns the assessment; the caller enforces it (step-up or refusal).
func (s *Service) AssessAction(ctx context.Context, actor ordergate.Actor, action string, amount int64, pastAmounts []int64) (risk.Assessment, error) {
	if s.Adaptive == nil {
		return risk.Assessment{Decision: risk.Allow}, nil
	}
	sig := risk.Signals{DeviceKnown: true, NetworkKnown: true, Remote: !s.Policy.Trusted(actor.Auth.ClientIP),
		Amount: amount, PastAmounts: pastAmounts}
	a := s.Adaptive.Engine.Assess(sig)
	if len(a.Factors) == 0 {
		return a, nil
	}
	u := &User{ID: actor.ID, Username: actor.Name}
	c := Client{IP: actor.Auth.ClientIP}
	ev := audit.Event{At: s.Clock.Now(), Action: "risk.assessed", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: actor.ID,
		Data: map[string]any{"action": action, "score": a.Score, "decision": string(a.Decision), "reasons": a.Reasons()}}
	return a, s.Adaptive.Store.RecordRiskDecision(ctx, s.decision(u, c, action, a, risk.Location{}), ev)
}
