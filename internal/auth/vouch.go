package auth

import (
	"context"
	"slices"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/sms"
)

// A user whose phone an administrator pre-registered (user add --phone)
// and who has no confirmed factor yet must prove that phone with a texted
// code before the first authenticator is bound, so that a stolen password
// alone cannot enroll an attacker's authenticator. The proof is recorded
// in the session (amr "sms"); requireEnrolling asks for it.

// vouchRequired reports whether sess must still prove u's pre-registered
// phone before enrolling.
func (s *Service) vouchRequired(ctx context.Context, sess *Session, u *User) (bool, error) {
	if !s.smsOn() || u.Phone == "" ||
		slices.Contains(sess.Auth.AMR, ordergate.AMRSMS) || slices.Contains(sess.Auth.AMR, AMRRecovery) {
		return false, nil
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return false, err
	}
	return len(enrolledMethods(fs)) == 0, nil
}

// requireVouch returns the vouch error when vouchRequired.
func (s *Service) requireVouch(ctx context.Context, sess *Session, u *User) error {
	need, err := s.vouchRequired(ctx, sess, u)
	if err != nil || !need {
		return err
	}
	return &ordergate.Error{Code: ordergate.EFORBIDDEN,
		Message: "first confirm the code we text to your registered phone " + sms.Mask(u.Phone),
		Details: map[string]any{"vouch": map[string]any{"method": MethodSMS, "phone": sms.Mask(u.Phone),
			"send": "/api/v1/me/vouch/sms/send", "confirm": "/api/v1/me/vouch/sms"}}}
}

// isVouchError reports whether err is requireVouch's error.
func isVouchError(err error) bool {
	e, ok := err.(*ordergate.Error)
	return ok && e.Details != nil && e.Details["vouch"] != nil
}

// SendVouchSMS texts a code to u's pre-registered phone. ECONFLICT when no
// such confirmation is needed.
func (s *Service) SendVouchSMS(ctx context.Context, sess *Session, u *User) (string, error) {
	if sess.State == StatePending {
		return "", ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
	need, err := s.vouchRequired(ctx, sess, u)
	if err != nil {
		return "", err
	}
	if !need {
		return "", ordergate.Errorf(ordergate.ECONFLICT, "no phone confirmation is needed")
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, "sms.send", u.Username, c); err != nil {
		return "", err
	}
	if err := s.sendSMSCode(ctx, u, sess, u.Phone, SMSPurposeVouch, ""); err != nil {
		return "", err
	}
	return sms.Mask(u.Phone), nil
}

// VouchSMS checks the code texted by SendVouchSMS and records the proof in
// the session, which it returns. ECODE for a wrong, used or expired code.
func (s *Service) VouchSMS(ctx context.Context, sess *Session, u *User, code string) (*Session, error) {
	if sess.State == StatePending {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
	need, err := s.vouchRequired(ctx, sess, u)
	if err != nil {
		return nil, err
	}
	if !need {
		return sess, nil
	}
	code = strings.Join(strings.Fields(code), "")
	if !sms.ValidFormat(code) {
		return nil, ordergate.FieldError(ordergate.EINVALID, "sms_code", "must be 6 digits")
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, "enroll.vouch", u.Username, c); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	phone, err := s.verifySMS(ctx, u, code, SMSPurposeVouch, "", now)
	if err != nil {
		return nil, err
	}
	if phone == "" || phone != u.Phone {
		return nil, s.codeFailed(ctx, u, sess, "enroll.vouch", map[string]any{"method": MethodSMS})
	}
	if err := s.Store.ThrottleReset(ctx, mfaKey(u)); err != nil {
		return nil, err
	}
	next := *sess
	next.Auth.AMR = appendNew(sess.Auth.AMR, ordergate.AMRSMS)
	next.Auth.FactorTimes = cloneTimes(sess.Auth.FactorTimes)
	next.Auth.FactorTimes[ordergate.AMRSMS] = now
	ev := audit.Event{At: now, Action: "enroll.vouch", Outcome: audit.OutcomeOK, Actor: UserActor(u, &next), SubjectID: u.ID,
		Data: map[string]any{"method": MethodSMS, "phone": sms.Mask(phone)}}
	if err := s.Store.UpdateSessionAuth(ctx, &next, ev); err != nil {
		return nil, err
	}
	return &next, nil
}
