package auth

import (
	"context"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/password"
)

// Admin-assisted recovery with four eyes: administrator A asks to reset
// user U's second factors, giving a reason; a different administrator B
// approves with a fresh second factor; U's factors, backup codes and
// sessions go, and U gets a one-time link, valid for a day, that together
// with U's password opens an enrollment-only session.

// Recovery timings.
const (
	// ResetRequestTTL is how long a reset request waits for approval.
	ResetRequestTTL = 24 * time.Hour
	// RecoveryLinkTTL is how long an approved reset's link stays valid.
	RecoveryLinkTTL = 24 * time.Hour
	// ApproveMaxAge is how fresh the approver's second factor must be.
	ApproveMaxAge = 5 * time.Minute
)

// forbidden returns a 403 with a machine-readable reason.
func forbidden(reason, msg string) *ordergate.Error {
	return &ordergate.Error{Code: ordergate.EFORBIDDEN, Message: msg, Details: map[string]any{"reason": reason}}
}

// requireAdmin refuses anyone but an administrator signed in with a second
// factor.
func requireAdmin(sess *Session, u *User) error {
	if !u.HasRole(RoleAdmin) {
		return forbidden("not_admin", "only administrators may do this")
	}
	if sess.State != StateActive || sess.Auth.AAL < ordergate.AAL2 {
		return forbidden("aal2_required", "sign in with a second factor to do this")
	}
	return nil
}

func (s *Service) recoveryStore() (RecoveryStore, error) {
	if s.Recovery == nil || s.Recovery.Store == nil {
		return nil, ordergate.Errorf(ordergate.EUNAVAILABLE, "recovery is not configured")
	}
	return s.Recovery.Store, nil
}

// RequestFactorReset records admin's request to reset userID's factors.
// EFORBIDDEN (with a reason) for non-administrators, sessions without a
// second factor and one's own account; EINVALID naming "reason".
func (s *Service) RequestFactorReset(ctx context.Context, sess *Session, admin *User, userID, reason string) (*FactorReset, error) {
	st, err := s.recoveryStore()
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(sess, admin); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if len(reason) < 10 || len(reason) > 500 {
		return nil, ordergate.FieldError(ordergate.EINVALID, "reason", "say why, in 10 to 500 characters")
	}
	if userID == admin.ID {
		return nil, forbidden("own_account", "you cannot reset your own factors; ask another administrator")
	}
	target, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	r := &FactorReset{UserID: target.ID, RequestedBy: admin.ID, Reason: reason, Status: ResetPending,
		CreatedAt: now, ExpiresAt: now.Add(ResetRequestTTL)}
	ev := audit.Event{At: now, Action: "factor_reset.requested", Outcome: audit.OutcomeOK, Actor: UserActor(admin, sess), SubjectID: target.ID,
		Data: map[string]any{"reason": reason, "username": target.Username}}
	if err := st.CreateFactorReset(ctx, r, ev); err != nil {
		return nil, err
	}
	// The request id is known only after the insert; record it as well.
	s.Log.Info("factor reset requested", "event", "factor_reset.requested", "user_id", admin.ID, "subject_id", target.ID, "reset_id", r.ID)
	return r, nil
}

// ApprovedReset is an approved reset and its one-time link, shown once.
type ApprovedReset struct {
	Reset     *FactorReset
	Token     string
	URL       string
	ExpiresAt time.Time
}

// ApproveFactorReset approves request id as admin. The approver must be a
// different administrator than the requester, not the user being reset,
// and have proven a second factor within ApproveMaxAge (ESTEPUP
// otherwise). An expired, already approved or own request gives
// EFORBIDDEN with a reason. Denied attempts are audited too.
func (s *Service) ApproveFactorReset(ctx context.Context, sess *Session, admin *User, id string) (*ApprovedReset, error) {
	st, err := s.recoveryStore()
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(sess, admin); err != nil {
		return nil, err
	}
	r, err := st.FactorReset(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	deny := func(reason, msg string) error {
		ev := audit.Event{At: now, Action: "factor_reset.approve", Outcome: audit.OutcomeDenied, Actor: UserActor(admin, sess),
			SubjectID: r.UserID, Data: map[string]any{"reset_id": r.ID, "reason": reason}}
		if err := s.Store.AppendAudit(ctx, ev); err != nil {
			return err
		}
		s.Log.Warn("factor reset approval refused", "event", "factor_reset.denied", "user_id", admin.ID, "reset_id", r.ID, "reason", reason)
		return forbidden(reason, msg)
	}
	switch {
	case r.RequestedBy == admin.ID:
		return nil, deny("own_request", "a different administrator must approve this request")
	case r.UserID == admin.ID:
		return nil, deny("own_account", "you cannot approve a reset of your own factors")
	case r.Status != ResetPending:
		return nil, deny("already_approved", "this request was already approved")
	case !now.Before(r.ExpiresAt):
		return nil, deny("expired", "this request has expired; ask for a new one")
	}
	if err := s.RequireFresh(sess.Auth, []string{MethodWebAuthn, MethodTOTP}, ApproveMaxAge); err != nil {
		return nil, err
	}
	target, err := s.Store.UserByID(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	// No browser may stand in for the factors being reset.
	if err := s.ForgetRememberedDevices(ctx, UserActor(admin, sess), r.UserID, "factor_reset"); err != nil {
		return nil, err
	}
	token := NewToken()
	link := &RecoveryLink{TokenHash: HashToken(token), CreatedAt: now, ExpiresAt: now.Add(RecoveryLinkTTL)}
	evs := []audit.Event{
		{At: now, Action: "factor_reset.approved", Outcome: audit.OutcomeOK, Actor: UserActor(admin, sess), SubjectID: r.UserID,
			Data: map[string]any{"reset_id": r.ID, "requested_by": r.RequestedBy, "reason": r.Reason, "link_expires_at": link.ExpiresAt}},
		{At: now, Action: "factor.reset", Outcome: audit.OutcomeOK, Actor: UserActor(admin, sess), SubjectID: r.UserID,
			Data: map[string]any{"reset_id": r.ID, "sessions_revoked": true, "backup_codes_removed": true}},
	}
	if err := st.ApproveFactorReset(ctx, r.ID, admin.ID, now, link, evs...); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			return nil, forbidden("not_pending", "this request is no longer pending")
		}
		return nil, err
	}
	r.Status, r.ApprovedBy, r.ApprovedAt = ResetApproved, admin.ID, now
	s.Log.Info("factor reset approved", "event", "factor_reset.approved", "user_id", admin.ID, "subject_id", target.ID, "reset_id", r.ID)
	url := strings.TrimRight(s.Recovery.PublicURL, "/") + "/recovery/" + token
	return &ApprovedReset{Reset: r, Token: token, URL: url, ExpiresAt: link.ExpiresAt}, nil
}

// FactorResets lists the reset requests of the last ResetRequestTTL (and a
// day more, so recently expired ones still show) for an administrator.
func (s *Service) FactorResets(ctx context.Context, sess *Session, admin *User) ([]*FactorReset, error) {
	st, err := s.recoveryStore()
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(sess, admin); err != nil {
		return nil, err
	}
	return st.FactorResets(ctx, s.Clock.Now().Add(-2*ResetRequestTTL))
}

// AcceptRecovery spends a recovery link: with the user's password it
// starts an enrollment-only session. An unknown, used or expired link and
// a wrong password all give ECREDENTIALS after the same work; guessing is
// throttled per link and per address.
func (s *Service) AcceptRecovery(ctx context.Context, token, pw string, c Client) (*LoginResult, error) {
	st, err := s.recoveryStore()
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	hash := HashToken(token)
	keys := []string{"recovery:link:" + hash[:16], "login:ip:" + c.IP}
	if err := s.checkThrottle(ctx, keys, "recovery.accept", "", c); err != nil {
		return nil, err
	}
	link, err := st.RecoveryLink(ctx, hash)
	if err != nil && ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		return nil, err
	}
	var u *User
	reason := "unknown_link"
	if link != nil {
		switch {
		case !link.UsedAt.IsZero():
			reason = "used"
		case !now.Before(link.ExpiresAt):
			reason = "expired"
		default:
			if u, err = s.Store.UserByID(ctx, link.UserID); err != nil {
				return nil, err
			}
			reason = ""
		}
	}
	ok := false
	if u == nil {
		password.VerifyDummy(pw)
	} else if ok, _, err = password.Verify(pw, u.PasswordHash); err != nil {
		return nil, err
	} else if !ok {
		reason = "wrong_password"
	} else if u.Disabled {
		ok, reason = false, "disabled"
	}
	if !ok {
		ev := audit.Event{At: now, Action: "recovery.accept", Outcome: audit.OutcomeFailed, Actor: anonymous(c), Data: map[string]any{"reason": reason}}
		if link != nil {
			ev.SubjectID = link.UserID
		}
		if err := s.throttleFailures(ctx, keys, now, ev); err != nil {
			return nil, err
		}
		s.Log.Info("recovery link refused", "event", "recovery.failed", "reason", reason, "client_ip", c.IP)
		return nil, ordergate.Errorf(ordergate.ECREDENTIALS, "this link is not valid, or the password is wrong")
	}
	auth := ordergate.AuthContext{AAL: ordergate.AALNone, AMR: []string{ordergate.AMRPassword, AMRRecovery}, AuthTime: now,
		FactorTimes: map[string]time.Time{ordergate.AMRPassword: now}, ClientIP: c.IP, UserAgent: c.UserAgent}
	tok, sess := s.newSession(u.ID, StateEnrollment, auth)
	ev := audit.Event{At: now, Action: "recovery.accepted", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"reset_id": link.ResetID}}
	if err := st.UseRecoveryLink(ctx, hash, sess, ev); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			return nil, ordergate.Errorf(ordergate.ECREDENTIALS, "this link is not valid, or the password is wrong")
		}
		return nil, err
	}
	if err := s.Store.ThrottleReset(ctx, keys[0]); err != nil {
		return nil, err
	}
	s.Log.Info("recovery link used", "event", "recovery.accepted", "user_id", u.ID, "client_ip", c.IP)
	return &LoginResult{State: LoginEnrollmentRequired, Token: tok, Session: sess, User: u,
		Methods: s.enrollMethods(u), Deadline: now}, nil
}

// enrollMethods lists the methods u may enroll, backup codes aside.
func (s *Service) enrollMethods(u *User) []string {
	var out []string
	for _, m := range s.allowedMethods(u) {
		if m != MethodBackupCode {
			out = append(out, m)
		}
	}
	return out
}
