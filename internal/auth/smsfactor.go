package auth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/sms"
)

// MessageSender sends a text to a phone number or, for the notification
// outbox, to a user. smsgateway.Twilio and smsgateway.Outbox are ones.
type MessageSender interface {
	Send(ctx context.Context, to, body string) error
}

// SIMSwapChecker reports whether a number's SIM card changed within a
// time (smsgateway.Twilio asks Twilio Lookup v2).
type SIMSwapChecker interface {
	RecentSIMSwap(ctx context.Context, phone string, within time.Duration) (bool, error)
}

// Recovery is the wiring of SMS codes, factor resets and notifications.
type Recovery struct {
	Store RecoveryStore
	// SMS sends codes and notifications by text; nil turns SMS off.
	SMS MessageSender
	// SIMSwap, when set, is asked before each code is sent; a number
	// whose SIM changed within SIMSwapWindow is not sent codes.
	SIMSwap       SIMSwapChecker
	SIMSwapWindow time.Duration
	// CodeKey keys the hashes of SMS codes (derived from the master key).
	CodeKey []byte
	// SendLimits bound the codes sent per user and per number.
	SendLimits []SendLimit
	// Host is the site's host name, for origin-bound code messages.
	Host string
	// Notices receives notifications for users without a phone (a JSON
	// lines outbox); nil keeps them in the table only.
	Notices MessageSender
	// PublicURL is the site's address, for recovery links.
	PublicURL string

	// wake lets DispatchSoon wake RunNotifier.
	wakeOnce sync.Once
	wake     chan struct{}
}

func (r *Recovery) wakeChan() chan struct{} {
	r.wakeOnce.Do(func() { r.wake = make(chan struct{}, 1) })
	return r.wake
}

// AMRRecovery marks a session started from an approved recovery link.
const AMRRecovery = "rcv"

// SMSNotice is told to everyone who enrolls SMS (NIST SP 800-63B §5.2.10:
// meaningful notice of the risk of a restricted authenticator).
const SMSNotice = "Text-message codes are the weakest second factor: a SIM swap or a ported number can send them to someone else, " +
	"and a fake site can ask you for them. Keep SMS as a fallback and add an authenticator app or a security key."

// errSMSOff is returned when SMS is not configured.
var errSMSOff = ordergate.Errorf(ordergate.EFORBIDDEN, "text messages are not available on this server; use another method")

// errSendFailed is what the user sees when the provider fails.
var errSendFailed = ordergate.Errorf(ordergate.EUNAVAILABLE, "could not send the code, try another method")

// smsParams is the Params JSON of an SMS factor.
type smsParams struct {
	Phone string `json:"phone"`
}

func factorPhone(f *Factor) string {
	var p smsParams
	json.Unmarshal(f.Params, &p)
	return p.Phone
}

// providerCode returns the provider's error code carried by err, if any.
func providerCode(err error) string {
	var pc interface{ ProviderCode() string }
	if errors.As(err, &pc) {
		return pc.ProviderCode()
	}
	return "unknown"
}

// smsOn reports whether SMS codes can be sent.
func (s *Service) smsOn() bool {
	return s.Recovery != nil && s.Recovery.SMS != nil && s.Recovery.Store != nil
}

// sendSMSCode creates, stores and sends a code for purpose to phone. A
// provider failure removes the code again (nothing is consumed), records
// the provider's error code in the audit log and gives EUNAVAILABLE.
func (s *Service) sendSMSCode(ctx context.Context, u *User, sess *Session, phone, purpose, factorID string) error {
	if !s.smsOn() {
		return errSMSOff
	}
	r := s.Recovery
	code, err := sms.NewCode()
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	c := &SMSCode{ID: "smc_" + strings.ToLower(newToken20()), UserID: u.ID, Purpose: purpose, FactorID: factorID, Phone: phone,
		CreatedAt: now, ExpiresAt: now.Add(sms.TTL)}
	c.Hash = sms.Hash(r.CodeKey, c.ID, code)
	limits := r.SendLimits
	if limits == nil {
		limits = DefaultSendLimits
	}
	data := func(extra ...any) map[string]any {
		d := map[string]any{"purpose": purpose, "phone": sms.Mask(phone), "code_id": c.ID}
		for i := 0; i+1 < len(extra); i += 2 {
			d[extra[i].(string)] = extra[i+1]
		}
		return d
	}
	if err := r.Store.ReserveSMSCode(ctx, c, limits); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ERATELIMIT {
			ev := audit.Event{At: now, Action: "sms.send", Outcome: audit.OutcomeThrottled, Actor: UserActor(u, sess), SubjectID: u.ID, Data: data()}
			if aerr := s.Store.AppendAudit(ctx, ev); aerr != nil {
				return aerr
			}
			s.Log.Warn("sms send limit", "event", "sms.throttled", "user_id", u.ID, "purpose", purpose)
		}
		return err
	}
	if r.SIMSwap != nil {
		swapped, err := r.SIMSwap.RecentSIMSwap(ctx, phone, r.SIMSwapWindow)
		switch {
		case err != nil:
			// The check is a SHOULD (NIST SP 800-63B §5.1.3.3); a lookup outage
			// must not lock people out, so the code goes out and the gap is on record.
			ev := audit.Event{At: now, Action: "sms.sim_swap_check", Outcome: audit.OutcomeFailed, Actor: UserActor(u, sess), SubjectID: u.ID,
				Data: data("provider_error", providerCode(err))}
			if aerr := s.Store.AppendAudit(ctx, ev); aerr != nil {
				return aerr
			}
			s.Log.Warn("sim swap check failed", "event", "sms.sim_swap_check_failed", "user_id", u.ID, "provider_code", providerCode(err))
		case swapped:
			ev := audit.Event{At: now, Action: "sms.send", Outcome: audit.OutcomeDenied, Actor: UserActor(u, sess), SubjectID: u.ID,
				Data: data("reason", "sim_swap")}
			if err := r.Store.FinishSMSCode(ctx, c.ID, SMSRefused, ev); err != nil {
				return err
			}
			s.Log.Warn("sms refused after sim swap", "event", "sms.sim_swap", "user_id", u.ID)
			days := int(r.SIMSwapWindow / (24 * time.Hour))
			return &ordergate.Error{Code: ordergate.EFORBIDDEN, Details: map[string]any{"reason": "sim_swap"},
				Message: "the SIM card of this phone number changed in the last " + itoa(days) + " days, so we do not send codes to it; " +
					"use an authenticator app, a security key or a backup code, or ask an administrator"}
		}
	}
	if err := r.SMS.Send(ctx, phone, sms.Message(code, r.Host)); err != nil {
		pc := providerCode(err)
		ev := audit.Event{At: now, Action: "sms.send", Outcome: audit.OutcomeFailed, Actor: UserActor(u, sess), SubjectID: u.ID,
			Data: data("provider_error", pc)}
		if ferr := r.Store.FinishSMSCode(ctx, c.ID, SMSFailed, ev); ferr != nil {
			return ferr
		}
		s.Log.Warn("sms send failed", "event", "sms.send_failed", "user_id", u.ID, "provider_code", pc, "err", err)
		return errSendFailed
	}
	ev := audit.Event{At: now, Action: "sms.send", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID, Data: data()}
	if err := r.Store.FinishSMSCode(ctx, c.ID, SMSSent, ev); err != nil {
		return err
	}
	s.Log.Info("sms sent", "event", "sms.sent", "user_id", u.ID, "purpose", purpose)
	return nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func newToken20() string { return NewToken()[:20] }

// verifySMS checks code against the user's latest valid code for purpose
// (and factorID, when given) and spends it. It returns "" and nil for a
// wrong, used, replaced or expired code, and the number it went to when
// right.
func (s *Service) verifySMS(ctx context.Context, u *User, code, purpose, factorID string, now time.Time) (string, error) {
	if !s.smsOn() {
		return "", nil
	}
	c, err := s.Recovery.Store.LatestSMSCode(ctx, u.ID, purpose, now)
	if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if (factorID != "" && c.FactorID != factorID) || !sms.Equal(s.Recovery.CodeKey, c.ID, code, c.Hash) {
		return "", nil
	}
	ok, err := s.Recovery.Store.UseSMSCode(ctx, c.ID, now)
	if err != nil || !ok {
		return "", err
	}
	return c.Phone, nil
}

// verifySMSFactor is verifyFactor's SMS case: a login code sent to one of
// u's confirmed SMS factors. It returns nil, nil for a wrong code.
func (s *Service) verifySMSFactor(ctx context.Context, u *User, code string, now time.Time) (*VerifyResult, error) {
	if !slices.Contains(s.allowedMethods(u), MethodSMS) {
		return nil, nil
	}
	phone, err := s.verifySMS(ctx, u, code, SMSPurposeLogin, "", now)
	if err != nil || phone == "" {
		return nil, err
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.Type == MethodSMS && f.Confirmed && factorPhone(f) == phone {
			return &VerifyResult{Method: MethodSMS, AMR: ordergate.AMRSMS, FactorID: f.ID}, nil
		}
	}
	return nil, nil
}

// confirmedSMS returns u's confirmed SMS factor, newest first, or nil.
func confirmedSMS(fs []*Factor) *Factor {
	var out *Factor
	for _, f := range fs {
		if f.Type == MethodSMS && f.Confirmed {
			out = f
		}
	}
	return out
}

// SendLoginSMS texts a sign-in code to u's SMS factor, for a pending
// session or a step-up. EFORBIDDEN when u has no SMS factor or may not use
// SMS; ERATELIMIT past the send limits or while guessing is throttled;
// EUNAVAILABLE when the provider fails.
func (s *Service) SendLoginSMS(ctx context.Context, sess *Session, u *User) (string, error) {
	if sess.State != StatePending && sess.State != StateActive {
		return "", ordergate.Errorf(ordergate.EFORBIDDEN, "finish enrolling first")
	}
	if !slices.Contains(s.allowedMethods(u), MethodSMS) {
		return "", ordergate.Errorf(ordergate.EFORBIDDEN, "your role may not use text-message codes; use an authenticator app or a security key")
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return "", err
	}
	f := confirmedSMS(fs)
	if f == nil {
		return "", ordergate.Errorf(ordergate.EFORBIDDEN, "no phone number is enrolled for text-message codes")
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, "sms.send", u.Username, c); err != nil {
		return "", err
	}
	phone := factorPhone(f)
	if err := s.sendSMSCode(ctx, u, sess, phone, SMSPurposeLogin, ""); err != nil {
		return "", err
	}
	return sms.Mask(phone), nil
}

// SMSEnrollment is a new, unconfirmed SMS factor whose code was sent.
type SMSEnrollment struct {
	ID string
	// Phone is the masked number the code went to.
	Phone string
	// Notice tells the user SMS is weaker; Alternatives are the stronger
	// methods the user may enroll instead.
	Notice       string
	Alternatives []string
}

// BeginSMS creates an unconfirmed SMS factor for phone and texts it a
// code. A malformed number gives EUNPROCESSABLE naming "phone"; a role
// policy forbids, or an administrator without an authenticator app or
// key gets, EFORBIDDEN; changing the number of an enrolled SMS factor
// needs a fresh second factor (ESTEPUP).
func (s *Service) BeginSMS(ctx context.Context, sess *Session, u *User, phone string) (*SMSEnrollment, error) {
	phone, err := sms.Normalize(phone, "")
	if err != nil {
		return nil, err
	}
	if err := s.requireEnrolling(ctx, sess, u); err != nil && !(isVouchError(err) && phone == u.Phone) {
		return nil, err
	}
	allowed := s.allowedMethods(u)
	if !slices.Contains(allowed, MethodSMS) || !s.smsOn() {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "your role may not use text-message codes; use an authenticator app or a security key")
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	enrolled := enrolledMethods(fs)
	if u.HasRole(RoleAdmin) && !slices.Contains(enrolled, MethodTOTP) && !slices.Contains(enrolled, MethodWebAuthn) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN,
			"administrators enroll an authenticator app or a security key first; text messages can only be their fallback")
	}
	if old := confirmedSMS(fs); old != nil {
		if factorPhone(old) == phone {
			return nil, ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "this number is already enrolled")
		}
		if err := s.RequireFresh(sess.Auth, []string{MethodWebAuthn, MethodTOTP, MethodSMS}, RemoveFactorMaxAge); err != nil {
			return nil, err
		}
	}
	params, _ := json.Marshal(smsParams{Phone: phone})
	f := &Factor{ID: newFactorID(), UserID: u.ID, Type: MethodSMS, Name: "Text messages to " + sms.Mask(phone), Params: params,
		CreatedAt: s.Clock.Now()}
	ev := audit.Event{Action: "factor.enroll_started", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"type": MethodSMS, "factor_id": f.ID, "phone": sms.Mask(phone)}}
	if err := s.Store.CreateFactor(ctx, f, ev); err != nil {
		return nil, err
	}
	if err := s.sendSMSCode(ctx, u, sess, phone, SMSPurposeEnroll, f.ID); err != nil {
		s.Store.DeleteFactor(ctx, u.ID, f.ID)
		return nil, err
	}
	var alt []string
	for _, m := range allowed {
		if m == MethodTOTP || m == MethodWebAuthn {
			alt = append(alt, m)
		}
	}
	return &SMSEnrollment{ID: f.ID, Phone: sms.Mask(phone), Notice: SMSNotice, Alternatives: alt}, nil
}

// ConfirmSMS activates an SMS factor with the code texted to it. When it
// replaces an earlier number, the old factor goes and the old number is
// told. An enrollment-only session becomes an active AAL2 session.
// ECODE for a wrong, used or expired code.
func (s *Service) ConfirmSMS(ctx context.Context, sess *Session, u *User, id, code string) (*ConfirmResult, error) {
	f, err := s.Store.Factor(ctx, u.ID, id)
	if err != nil {
		return nil, err
	}
	if f.Type != MethodSMS {
		return nil, ordergate.Errorf(ordergate.ENOTFOUND, "factor not found")
	}
	phone := factorPhone(f)
	if err := s.requireEnrolling(ctx, sess, u); err != nil && !(isVouchError(err) && phone == u.Phone) {
		return nil, err
	}
	if f.Confirmed {
		return nil, ordergate.Errorf(ordergate.ECONFLICT, "factor already confirmed")
	}
	code = strings.Join(strings.Fields(code), "")
	if !sms.ValidFormat(code) {
		return nil, ordergate.FieldError(ordergate.EINVALID, "code", "must be 6 digits")
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, "factor.confirm", u.Username, c); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	got, err := s.verifySMS(ctx, u, code, SMSPurposeEnroll, f.ID, now)
	if err != nil {
		return nil, err
	}
	if got == "" {
		return nil, s.codeFailed(ctx, u, sess, "factor.confirm", map[string]any{"factor_id": f.ID, "method": MethodSMS})
	}
	if err := s.Store.ThrottleReset(ctx, mfaKey(u)); err != nil {
		return nil, err
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	evs := []audit.Event{{At: now, Action: "factor.confirmed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"type": MethodSMS, "factor_id": f.ID, "phone": sms.Mask(phone)}}}
	var notes []Notification
	replaces := ""
	if old := confirmedSMS(fs); old != nil {
		replaces = old.ID
		evs = append(evs, audit.Event{At: now, Action: "sms.number_changed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
			Data: map[string]any{"old_factor_id": old.ID, "factor_id": f.ID, "old_phone": sms.Mask(factorPhone(old)), "phone": sms.Mask(phone)}})
		notes = append(notes, Notification{UserID: u.ID, Kind: "sms.number_changed", Phone: factorPhone(old),
			Body: "ordergate: the number for sign-in codes of " + u.Username + " was changed from this phone to " + sms.Mask(phone) +
				". If you did not do this, contact your administrator at once."})
	}
	if err := s.Recovery.Store.ConfirmSMSFactor(ctx, f.ID, replaces, notes, evs...); err != nil {
		return nil, err
	}
	res := &ConfirmResult{ID: f.ID}
	if sess.State == StateEnrollment {
		up := audit.Event{Action: "login.enrolled", Outcome: audit.OutcomeOK, SubjectID: u.ID, Data: map[string]any{"method": MethodSMS}}
		if res.Token, res.Session, err = s.upgrade(ctx, u, sess, ordergate.AMRSMS, up); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// codeFailed counts and records a wrong code and returns ECODE.
func (s *Service) codeFailed(ctx context.Context, u *User, sess *Session, step string, data map[string]any) error {
	now := s.Clock.Now()
	ev := audit.Event{At: now, Action: step, Outcome: audit.OutcomeFailed, Actor: UserActor(u, sess), SubjectID: u.ID, Data: data}
	if _, err := s.Store.ThrottleFail(ctx, mfaKey(u), AccountThrottle, now, ev); err != nil {
		return err
	}
	s.Log.Info("code failed", "event", step+".failed", "user_id", u.ID, "client_ip", sess.Auth.ClientIP)
	return ordergate.Errorf(ordergate.ECODE, "invalid code")
}
