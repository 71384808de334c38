package auth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/webauthn"
)

// CeremonyTTL is how long a begun WebAuthn ceremony may be finished.
const CeremonyTTL = 5 * time.Minute

// WebAuthn ceremony kinds.
const (
	CeremonyRegister = "register"
	CeremonyLogin    = "login"
	CeremonyPasskey  = "passkey"
	CeremonyStepUp   = "step_up"
)

// WebAuthnCredential is the index entry of a webauthn factor: the
// credential ID it is found by, and the state that changes with each use.
type WebAuthnCredential struct {
	FactorID     string
	UserID       string
	CredentialID []byte
	SignCount    uint32
	// CloneSuspected is set when the counter went backwards; the
	// credential is refused from then on.
	CloneSuspected bool
}

// Ceremony is the server-side state of a begun WebAuthn ceremony.
type Ceremony struct {
	// ID is the ceremony's challenge (base64url), which the response's
	// client data carries back.
	ID   string
	Kind string
	// SessionID binds the ceremony to the session that began it; "" for a
	// passkey sign-in, which has no session yet.
	SessionID string
	UserID    string
	Data      []byte
	ExpiresAt time.Time
}

// WebAuthnStore keeps WebAuthn credentials and ceremonies.
type WebAuthnStore interface {
	// CreateWebAuthnFactor stores the confirmed factor f and its
	// credential c (whose FactorID it sets). ECONFLICT when the credential
	// ID is registered already.
	CreateWebAuthnFactor(ctx context.Context, f *Factor, c *WebAuthnCredential, evs ...audit.Event) error
	// WebAuthnCredentials returns a user's credentials.
	WebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// WebAuthnCredentialByID returns ENOTFOUND for an unknown credential ID.
	WebAuthnCredentialByID(ctx context.Context, credentialID []byte) (*WebAuthnCredential, error)
	// UseWebAuthnCredential records count as the credential's counter and
	// at as the factor's last use, when the credential is not flagged and
	// count is above the stored counter (or both are 0), and reports
	// whether it did. The condition makes a counter single-use across
	// processes.
	UseWebAuthnCredential(ctx context.Context, factorID string, count uint32, at time.Time, evs ...audit.Event) (bool, error)
	// FlagWebAuthnClone marks the credential as possibly cloned.
	FlagWebAuthnClone(ctx context.Context, factorID string, evs ...audit.Event) error
	// SaveCeremony stores c and forgets expired ceremonies.
	SaveCeremony(ctx context.Context, c *Ceremony) error
	// TakeCeremony removes the ceremony id of kind begun by sessionID and
	// returns it. ENOTFOUND when there is none (never begun, already
	// taken, other kind or session) or it had expired at now.
	TakeCeremony(ctx context.Context, id, kind, sessionID string, now time.Time) (*Ceremony, error)
}

// OrderLookup finds the order a WebAuthn step-up approves, so that the
// challenge covers its total and currency.
type OrderLookup interface {
	// OrderAmount returns the order's total in minor units and its
	// currency; ENOTFOUND when there is no such order.
	OrderAmount(ctx context.Context, id string) (total int64, currency string, err error)
}

// WebAuthn configures security keys and passkeys.
type WebAuthn struct {
	RP    *webauthn.RelyingParty
	Store WebAuthnStore
	// Orders finds orders for transaction-bound step-ups; without it a
	// step-up naming an order is refused.
	Orders OrderLookup
	// PasswordlessRoles may sign in with a passkey and user verification
	// alone; a user must hold only such roles.
	PasswordlessRoles []string
	// UserVerificationRoles must verify the user (PIN, biometric) on
	// every use of a key.
	UserVerificationRoles []string
	// DeviceBoundRoles may not use keys that can be synced or backed up.
	DeviceBoundRoles []string
	// AttestationRoles may only register approved models: attestation
	// is requested and the AAGUID must be on AllowedAAGUIDs (when not
	// empty) and pass the Metadata (when set).
	AttestationRoles []string
	AllowedAAGUIDs   []string
	Metadata         metadata.Provider
}

func holdsAny(u *User, roles []string) bool {
	return slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(roles, r) })
}

// requirements returns what u's roles demand of an authenticator.
func (w *WebAuthn) requirements(u *User) webauthn.Requirements {
	r := webauthn.Requirements{UserVerification: holdsAny(u, w.UserVerificationRoles),
		DeviceBound: holdsAny(u, w.DeviceBoundRoles), Attestation: holdsAny(u, w.AttestationRoles)}
	if r.Attestation {
		r.AllowedAAGUIDs, r.Metadata = w.AllowedAAGUIDs, w.Metadata
	}
	return r
}

// passwordless reports whether u may sign in with a passkey alone.
func (w *WebAuthn) passwordless(u *User) bool {
	return len(u.Roles) > 0 && !slices.ContainsFunc(u.Roles, func(r string) bool { return !slices.Contains(w.PasswordlessRoles, r) })
}

// ceremonyData is what a ceremony row keeps besides the library's state.
type ceremonyData struct {
	Session     json.RawMessage       `json:"session"`
	Name        string                `json:"name,omitempty"`
	Nonce       []byte                `json:"nonce,omitempty"`
	Transaction *webauthn.Transaction `json:"transaction,omitempty"`
}

// webauthnUser loads u's credentials as the relying party needs them,
// with their index entries. Flagged credentials are left out unless all
// is set (registration excludes them too).
func (s *Service) webauthnUser(ctx context.Context, u *User, all bool) (webauthn.User, map[string]WebAuthnCredential, error) {
	wu := webauthn.User{Handle: []byte(u.ID), Name: u.Username, DisplayName: u.Username}
	creds, err := s.WebAuthn.Store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return wu, nil, err
	}
	byFactor := map[string]WebAuthnCredential{}
	for _, c := range creds {
		byFactor[c.FactorID] = c
	}
	factors, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return wu, nil, err
	}
	for _, f := range factors {
		c, ok := byFactor[f.ID]
		if f.Type != MethodWebAuthn || !f.Confirmed || !ok || (c.CloneSuspected && !all) {
			continue
		}
		wu.Credentials = append(wu.Credentials, webauthn.Stored{FactorID: f.ID, Params: f.Params, SignCount: c.SignCount})
	}
	return wu, byFactor, nil
}

func (s *Service) webauthnEnabled() error {
	if s.WebAuthn == nil || s.WebAuthn.RP == nil {
		return ordergate.Errorf(ordergate.ENOTFOUND, "security keys are not enabled on this server")
	}
	return nil
}

// beginCeremony stores a begun ceremony and returns its options.
func (s *Service) beginCeremony(ctx context.Context, c *webauthn.Ceremony, kind, sessionID, userID string, d ceremonyData) ([]byte, error) {
	d.Session = c.Session
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	cer := &Ceremony{ID: c.Challenge, Kind: kind, SessionID: sessionID, UserID: userID, Data: data,
		ExpiresAt: s.Clock.Now().Add(CeremonyTTL)}
	if err := s.WebAuthn.Store.SaveCeremony(ctx, cer); err != nil {
		return nil, err
	}
	return c.Options, nil
}

// takeCeremony finds and consumes the ceremony a response answers.
func (s *Service) takeCeremony(ctx context.Context, body []byte, kind, sessionID, userID string) (*ceremonyData, error) {
	challenge, err := webauthn.ResponseChallenge(body)
	if err != nil {
		return nil, err
	}
	c, err := s.WebAuthn.Store.TakeCeremony(ctx, challenge, kind, sessionID, s.Clock.Now())
	if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
		return nil, errCeremony
	} else if err != nil {
		return nil, err
	}
	if c.UserID != userID {
		return nil, errCeremony
	}
	var d ceremonyData
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// errCeremony is the cause logged for an unknown, replayed, expired or
// foreign challenge.
var errCeremony = errors.New("webauthn: no such ceremony (unknown, used, expired or begun elsewhere)")

// webauthnFailure reports why a WebAuthn step failed, for audit and log.
func webauthnFailure(err error) (reason string, ok bool) {
	switch {
	case errors.Is(err, errCeremony):
		return "ceremony", true
	case errors.Is(err, webauthn.ErrPolicy):
		return "policy", true
	case errors.Is(err, webauthn.ErrUnknownCredential):
		return "unknown_credential", true
	case errors.Is(err, errCloneSuspected):
		return "clone_suspected", true
	case errors.Is(err, webauthn.ErrVerification):
		return "verification", true
	}
	return "", false
}

var errCloneSuspected = errors.New("webauthn: credential flagged as possibly cloned")

// webauthnFailed counts, audits and logs a failed WebAuthn step and returns
// the one generic error the client sees (ECODE, 401). Errors that are not
// failures of the response (database down…) are returned as they are.
func (s *Service) webauthnFailed(ctx context.Context, u *User, sess *Session, c Client, step string, cause error) error {
	reason, ok := webauthnFailure(cause)
	if !ok {
		return cause
	}
	now := s.Clock.Now()
	ev := audit.Event{At: now, Action: step, Outcome: audit.OutcomeFailed, Actor: anonymous(c),
		Data: map[string]any{"method": MethodWebAuthn, "reason": reason}}
	key := "login:ip:" + c.IP
	if u != nil {
		ev.Actor, ev.SubjectID, key = UserActor(u, sess), u.ID, mfaKey(u)
	}
	if _, err := s.Store.ThrottleFail(ctx, key, AccountThrottle, now, ev); err != nil {
		return err
	}
	userID := ""
	if u != nil {
		userID = u.ID
	}
	s.Log.Info("webauthn failed", "event", step+".failed", "user_id", userID, "client_ip", c.IP, "reason", reason, "err", cause.Error())
	if reason == "policy" && step == "factor.enroll" {
		return ordergate.Errorf(ordergate.EFORBIDDEN, "this authenticator is not allowed for your role")
	}
	return ordergate.Errorf(ordergate.ECODE, "security key verification failed")
}

func sessionClient(sess *Session) Client {
	return Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
}

// BeginWebAuthnRegistration starts registering a security key or passkey
// named name for u, from an enrollment session or an active one allowed
// to add factors. It returns the creation options for the browser.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, sess *Session, u *User, name string) ([]byte, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if err := s.requireEnrolling(ctx, sess, u); err != nil {
		return nil, err
	}
	if !slices.Contains(s.allowedMethods(u), MethodWebAuthn) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "your role may not use security keys")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Security key"
	}
	if len(name) > 64 {
		return nil, ordergate.FieldError(ordergate.EINVALID, "name", "1-64 characters")
	}
	wu, _, err := s.webauthnUser(ctx, u, true)
	if err != nil {
		return nil, err
	}
	c, err := s.WebAuthn.RP.BeginRegistration(wu, s.WebAuthn.requirements(u))
	if err != nil {
		return nil, err
	}
	return s.beginCeremony(ctx, c, CeremonyRegister, sess.ID, u.ID, ceremonyData{Name: name})
}

// WebAuthnEnrollment is a registered security key. When the session was
// enrollment-only it has been replaced by an active AAL2 session.
type WebAuthnEnrollment struct {
	ID      string
	Name    string
	AAGUID  string
	Token   string
	Session *Session
}

// FinishWebAuthnRegistration verifies the browser's registration response
// and stores the credential as a confirmed factor. A bad response gives
// ECODE; an authenticator the role may not use, EFORBIDDEN.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, sess *Session, u *User, body []byte) (*WebAuthnEnrollment, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if err := s.requireEnrolling(ctx, sess, u); err != nil {
		return nil, err
	}
	c := sessionClient(sess)
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, "factor.enroll", u.Username, c); err != nil {
		return nil, err
	}
	d, err := s.takeCeremony(ctx, body, CeremonyRegister, sess.ID, u.ID)
	if err != nil {
		return nil, s.webauthnFailed(ctx, u, sess, c, "factor.enroll", err)
	}
	wu, _, err := s.webauthnUser(ctx, u, true)
	if err != nil {
		return nil, err
	}
	reg, err := s.WebAuthn.RP.FinishRegistration(wu, d.Session, body, s.WebAuthn.requirements(u))
	if err != nil {
		return nil, s.webauthnFailed(ctx, u, sess, c, "factor.enroll", err)
	}
	now := s.Clock.Now()
	f := &Factor{ID: newFactorID(), UserID: u.ID, Type: MethodWebAuthn, Name: d.Name, Params: reg.Params, Confirmed: true, CreatedAt: now}
	ev := audit.Event{At: now, Action: "factor.confirmed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"type": MethodWebAuthn, "factor_id": f.ID, "name": f.Name, "aaguid": reg.AAGUID,
			"attestation_format": reg.AttestationFormat, "transports": reg.Transports,
			"backup_eligible": reg.BackupEligible, "backed_up": reg.BackupState, "user_verified": reg.UserVerified}}
	cred := &WebAuthnCredential{UserID: u.ID, CredentialID: reg.CredentialID, SignCount: reg.SignCount}
	if err := s.WebAuthn.Store.CreateWebAuthnFactor(ctx, f, cred, ev); err != nil {
		return nil, err
	}
	if err := s.Store.ThrottleReset(ctx, mfaKey(u)); err != nil {
		return nil, err
	}
	s.Log.Info("security key registered", "event", "factor.confirmed", "user_id", u.ID, "factor_id", f.ID, "aaguid", reg.AAGUID)
	res := &WebAuthnEnrollment{ID: f.ID, Name: f.Name, AAGUID: reg.AAGUID}
	if sess.State == StateEnrollment {
		up := SessionUpgrade{Login: s.loginConfirmation(u, sess), Events: []audit.Event{{Action: "login.enrolled", Outcome: audit.OutcomeOK,
			SubjectID: u.ID, Data: map[string]any{"method": MethodWebAuthn}}}}
		if res.Token, res.Session, err = s.upgradeAMR(ctx, u, sess, webauthnAMR(reg.BackupEligible, reg.UserVerified), up); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// webauthnAMR is what a key use proves: hwk for a device-bound key, swk
// for one that may be synced, and user when the user was verified.
func webauthnAMR(backupEligible, userVerified bool) []string {
	amr := []string{ordergate.AMRHardware}
	if backupEligible {
		amr[0] = ordergate.AMRSoftware
	}
	if userVerified {
		amr = append(amr, ordergate.AMRUser)
	}
	return amr
}

// useCredential accepts an assertion's signature counter, or flags the
// credential as possibly cloned when the counter did not move forward:
// the assertion is refused, an audit event and a security alert raised.
func (s *Service) useCredential(ctx context.Context, u *User, sess *Session, c Client, cred WebAuthnCredential, as *webauthn.Assertion) error {
	now := s.Clock.Now()
	if !webauthn.CounterRegressed(cred.SignCount, as.SignCount) {
		ok, err := s.WebAuthn.Store.UseWebAuthnCredential(ctx, cred.FactorID, as.SignCount, now)
		if err != nil || ok {
			return err
		}
	}
	actor := anonymous(c)
	if sess != nil {
		actor = UserActor(u, sess)
	}
	ev := audit.Event{At: now, Action: "webauthn.clone_suspected", Outcome: audit.OutcomeDenied, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"factor_id": cred.FactorID, "stored_count": cred.SignCount, "presented_count": as.SignCount, "aaguid": as.AAGUID}}
	sec := securityEvent(now, SecurityKeyCloned, actor, u.ID, map[string]any{"factor_id": cred.FactorID})
	if err := s.WebAuthn.Store.FlagWebAuthnClone(ctx, cred.FactorID, ev, sec); err != nil {
		return err
	}
	s.counted(SecurityKeyCloned)
	s.Log.Error("security alert: security key may be cloned", "event", "webauthn.clone_suspected", "user_id", u.ID,
		"factor_id", cred.FactorID, "client_ip", c.IP, "stored_count", cred.SignCount, "presented_count", as.SignCount)
	return errCloneSuspected
}

// BeginWebAuthnLogin starts the second factor of a pending session with
// one of u's security keys.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, sess *Session, u *User) ([]byte, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if sess.State != StatePending {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "no second factor is pending for this session")
	}
	return s.beginAssertion(ctx, sess, u, CeremonyLogin, ceremonyData{})
}

func (s *Service) beginAssertion(ctx context.Context, sess *Session, u *User, kind string, d ceremonyData) ([]byte, error) {
	wu, _, err := s.webauthnUser(ctx, u, false)
	if err != nil {
		return nil, err
	}
	if len(wu.Credentials) == 0 {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "no security key is enrolled")
	}
	c, nonce, err := s.WebAuthn.RP.BeginLogin(wu, s.WebAuthn.requirements(u), d.Transaction)
	if err != nil {
		return nil, err
	}
	d.Nonce = nonce
	return s.beginCeremony(ctx, c, kind, sess.ID, u.ID, d)
}

// finishAssertion verifies an assertion for a ceremony of kind begun by
// sess and accepts its counter.
func (s *Service) finishAssertion(ctx context.Context, sess *Session, u *User, kind, step string, body []byte) (*webauthn.Assertion, *ceremonyData, error) {
	c := sessionClient(sess)
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, step, u.Username, c); err != nil {
		return nil, nil, err
	}
	d, err := s.takeCeremony(ctx, body, kind, sess.ID, u.ID)
	if err != nil {
		return nil, nil, s.webauthnFailed(ctx, u, sess, c, step, err)
	}
	wu, creds, err := s.webauthnUser(ctx, u, false)
	if err != nil {
		return nil, nil, err
	}
	as, err := s.WebAuthn.RP.FinishLogin(wu, d.Session, body, s.WebAuthn.requirements(u))
	if err == nil {
		err = s.useCredential(ctx, u, sess, c, creds[as.FactorID], as)
	}
	if err != nil {
		return nil, nil, s.webauthnFailed(ctx, u, sess, c, step, err)
	}
	if err := s.Store.ThrottleReset(ctx, mfaKey(u)); err != nil {
		return nil, nil, err
	}
	return as, d, nil
}

// FinishWebAuthnLogin verifies the security key of a pending session and
// replaces the session with a new token at AAL2 (amr hwk or swk, and user
// when the key verified the user). Failures give ECODE.
func (s *Service) FinishWebAuthnLogin(ctx context.Context, sess *Session, u *User, body []byte) (*LoginResult, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if sess.State != StatePending {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "no second factor is pending for this session")
	}
	as, _, err := s.finishAssertion(ctx, sess, u, CeremonyLogin, "login.mfa", body)
	if err != nil {
		return nil, err
	}
	ev := audit.Event{Action: "login.mfa", Outcome: audit.OutcomeOK, SubjectID: u.ID,
		Data: map[string]any{"method": MethodWebAuthn, "factor_id": as.FactorID, "user_verified": as.UserVerified}}
	up := SessionUpgrade{Login: s.loginConfirmation(u, sess), Events: []audit.Event{ev}}
	token, next, err := s.upgradeAMR(ctx, u, sess, webauthnAMR(as.BackupEligible, as.UserVerified), up)
	if err != nil {
		return nil, err
	}
	s.Log.Info("login", "event", "login.ok", "user_id", u.ID, "method", MethodWebAuthn, "aal", 2)
	return &LoginResult{State: LoginAuthenticated, Token: token, Session: next, User: u}, nil
}

// BeginPasskeyLogin starts a passwordless sign-in with a discoverable
// credential; no session is needed.
func (s *Service) BeginPasskeyLogin(ctx context.Context, c Client) ([]byte, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if err := s.checkThrottle(ctx, []string{"login:ip:" + c.IP}, "login", "", c); err != nil {
		return nil, err
	}
	cer, err := s.WebAuthn.RP.BeginPasskey()
	if err != nil {
		return nil, err
	}
	return s.beginCeremony(ctx, cer, CeremonyPasskey, "", "", ceremonyData{})
}

// FinishPasskeyLogin verifies a passkey assertion with user verification
// and, when every role of its owner allows passwordless sign-in, starts an
// active AAL2 session (amr hwk or swk, and user). Failures give ECODE; a
// user whose roles do not allow it gets EFORBIDDEN.
func (s *Service) FinishPasskeyLogin(ctx context.Context, body []byte, c Client) (*LoginResult, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if err := s.checkThrottle(ctx, []string{"login:ip:" + c.IP}, "login", "", c); err != nil {
		return nil, err
	}
	d, err := s.takeCeremony(ctx, body, CeremonyPasskey, "", "")
	if err != nil {
		return nil, s.webauthnFailed(ctx, nil, nil, c, "login.passkey", err)
	}
	var u *User
	var creds map[string]WebAuthnCredential
	lookup := func(rawID []byte) (webauthn.User, webauthn.Requirements, error) {
		cred, err := s.WebAuthn.Store.WebAuthnCredentialByID(ctx, rawID)
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			return webauthn.User{}, webauthn.Requirements{}, webauthn.ErrUnknownCredential
		} else if err != nil {
			return webauthn.User{}, webauthn.Requirements{}, err
		}
		if u, err = s.Store.UserByID(ctx, cred.UserID); err != nil {
			return webauthn.User{}, webauthn.Requirements{}, err
		}
		wu, byFactor, err := s.webauthnUser(ctx, u, false)
		creds = byFactor
		req := s.WebAuthn.requirements(u)
		req.UserVerification = true
		return wu, req, err
	}
	_, as, err := s.WebAuthn.RP.FinishPasskey(d.Session, body, lookup)
	if err == nil && u.Disabled {
		err = webauthn.ErrUnknownCredential
	}
	if err == nil {
		err = s.useCredential(ctx, u, nil, c, creds[as.FactorID], as)
	}
	if err != nil {
		return nil, s.webauthnFailed(ctx, u, nil, c, "login.passkey", err)
	}
	now := s.Clock.Now()
	if !s.WebAuthn.passwordless(u) {
		ev := audit.Event{At: now, Action: "login.passkey", Outcome: audit.OutcomeDenied, Actor: anonymous(c), SubjectID: u.ID,
			Data: map[string]any{"method": MethodWebAuthn, "reason": "role_not_passwordless", "roles": u.Roles}}
		if err := s.Store.AppendAudit(ctx, ev); err != nil {
			return nil, err
		}
		s.Log.Info("passkey sign-in refused by policy", "event", "login.passkey.denied", "user_id", u.ID, "client_ip", c.IP)
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "your role may not sign in without a password; sign in with your password and security key")
	}
	// The same risk scoring as a password sign-in: a denial stands; a
	// demand for a second or phishing-resistant factor is met by the
	// passkey itself.
	lr, err := s.assessLogin(ctx, u, c, now)
	if err != nil {
		return nil, err
	}
	var req Requirement
	if err := s.applyRisk(ctx, u, c, lr, &req, now); err != nil {
		return nil, err
	}
	amr := webauthnAMR(as.BackupEligible, as.UserVerified)
	auth := ordergate.AuthContext{AAL: ordergate.AAL2, AMR: amr, AuthTime: now, FactorTimes: map[string]time.Time{},
		ClientIP: c.IP, UserAgent: c.UserAgent, Risk: lr.Reasons()}
	for _, m := range amr {
		auth.FactorTimes[m] = now
	}
	token, sess := s.newSession(u.ID, StateActive, auth)
	ev := audit.Event{At: now, Action: "login", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"state": LoginAuthenticated, "method": "passkey", "factor_id": as.FactorID}}
	if err := s.Store.CreateSession(ctx, sess, ev); err != nil {
		return nil, err
	}
	if err := s.Store.RecordLogin(ctx, u.ID, now, ""); err != nil {
		return nil, err
	}
	res := &LoginResult{State: LoginAuthenticated, Token: token, Session: sess, User: u, Reasons: lr.Reasons(), Risk: lr}
	if err := s.recordLoginRisk(ctx, u, sess, c, res); err != nil {
		return nil, err
	}
	s.Log.Info("login", "event", "login.ok", "user_id", u.ID, "method", "passkey", "client_ip", c.IP, "aal", 2)
	return res, nil
}

// transaction returns what a step-up for action on orderID approves; nil
// when no order is named.
func (s *Service) transaction(ctx context.Context, action, orderID string) (*webauthn.Transaction, error) {
	if orderID == "" {
		return nil, nil
	}
	if action == "" {
		return nil, ordergate.FieldError(ordergate.EINVALID, "action", "required with order_id")
	}
	if s.WebAuthn.Orders == nil {
		return nil, ordergate.Errorf(ordergate.EUNAVAILABLE, "orders cannot be looked up")
	}
	total, currency, err := s.WebAuthn.Orders.OrderAmount(ctx, orderID)
	if err != nil {
		return nil, err
	}
	return &webauthn.Transaction{Action: action, OrderID: orderID, Total: total, Currency: currency}, nil
}

// BeginWebAuthnStepUp starts proving a security key again on an active
// session. With an order, the challenge covers the action, the order's id,
// total and currency (see webauthn.TransactionChallenge).
func (s *Service) BeginWebAuthnStepUp(ctx context.Context, sess *Session, u *User, action, orderID string) ([]byte, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if sess.State != StateActive {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
	tx, err := s.transaction(ctx, action, orderID)
	if err != nil {
		return nil, err
	}
	return s.beginAssertion(ctx, sess, u, CeremonyStepUp, ceremonyData{Transaction: tx})
}

// WebAuthnStepUp is a finished WebAuthn step-up.
type WebAuthnStepUp struct {
	StepUpResult
	// Receipt is the signed assertion; for a transaction-bound step-up
	// it holds the nonce and transaction, and webauthn.VerifyReceipt
	// checks it. The audit event step_up keeps it too.
	Receipt webauthn.Receipt
}

// FinishWebAuthnStepUp verifies the step-up assertion and records the key
// in the session. When the order's total or currency changed since the
// challenge was made the step-up is refused with ECONFLICT.
func (s *Service) FinishWebAuthnStepUp(ctx context.Context, sess *Session, u *User, body []byte) (*WebAuthnStepUp, error) {
	if err := s.webauthnEnabled(); err != nil {
		return nil, err
	}
	if sess.State != StateActive {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
	as, d, err := s.finishAssertion(ctx, sess, u, CeremonyStepUp, "step_up", body)
	if err != nil {
		return nil, err
	}
	receipt := as.Receipt
	orderID, action := "", ""
	if tx := d.Transaction; tx != nil {
		receipt.Nonce, receipt.Transaction = d.Nonce, tx
		orderID, action = tx.OrderID, tx.Action
		now, err := s.transaction(ctx, tx.Action, tx.OrderID)
		if err != nil {
			return nil, err
		}
		if *now != *tx {
			return nil, ordergate.Errorf(ordergate.ECONFLICT, "the order changed since the approval began; approve it again")
		}
	}
	now := s.Clock.Now()
	ev := audit.Event{At: now, Action: "step_up", Outcome: audit.OutcomeOK, SubjectID: u.ID, OrderID: orderID,
		Data: map[string]any{"method": MethodWebAuthn, "action": action, "factor_id": as.FactorID, "receipt": receipt}}
	amr := webauthnAMR(as.BackupEligible, as.UserVerified)
	out := &WebAuthnStepUp{Receipt: receipt}
	if sess.Auth.AAL < ordergate.AAL2 {
		token, next, err := s.upgradeAMR(ctx, u, sess, amr, SessionUpgrade{Events: []audit.Event{ev}})
		if err != nil {
			return nil, err
		}
		out.Token, out.Session = token, next
		return out, nil
	}
	next := *sess
	next.Auth.FactorTimes = cloneTimes(sess.Auth.FactorTimes)
	for _, m := range amr {
		next.Auth.FactorTimes[m] = now
		next.Auth.AMR = appendNew(next.Auth.AMR, m)
	}
	ev.Actor = UserActor(u, &next)
	if err := s.Store.UpdateSessionAuth(ctx, &next, ev); err != nil {
		return nil, err
	}
	out.Session = &next
	return out, nil
}
