package auth

import (
	"context"
	"crypto/rand"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/password"
	"github.com/ordergate/ordergate/internal/auth/sms"
)

// Invitations and password links: an administrator never sees or sets a
// password. A new user is invited with a one-time link (InvitationTTL)
// that lets them choose a password and go on to enroll a second factor; a
// forgotten password is replaced through a one-time reset link
// (PasswordResetTTL). Both links are stored as hashes and spent once.

// Link lifetimes.
const (
	InvitationTTL    = 72 * time.Hour
	PasswordResetTTL = 24 * time.Hour
	// PasswordChangeMaxAge is how fresh a second factor must be to change
	// one's password.
	PasswordChangeMaxAge = 5 * time.Minute
)

// Invitation is what an administrator fills in to invite a user.
type Invitation struct {
	Username string
	Roles    []string
	Groups   []string
	Email    string
	Phone    string
}

// IssuedLink is a new one-time link. Token is shown once, in the link,
// and never stored. RoleRequest is set when an invitation grants a
// privileged role, which waits for a second administrator.
type IssuedLink struct {
	Link        *AccountLink
	Token       string
	User        *User
	RoleRequest *RoleRequest
}

// Invite creates user inv.Username with an invitation link. Roles that
// need four eyes are not granted yet: a role request for them is stored
// and returned. EUNPROCESSABLE naming the field for a taken username, an
// invalid e-mail address or phone number; EINVALID for bad roles.
func (s *Service) Invite(ctx context.Context, actor ordergate.Actor, inv Invitation) (*IssuedLink, error) {
	if err := requireAdministrator(actor, true); err != nil {
		return nil, err
	}
	inv.Username = strings.ToLower(strings.TrimSpace(inv.Username))
	if err := ValidUsername(inv.Username); err != nil {
		return nil, asUnprocessable(err)
	}
	if err := ValidRoles(inv.Roles, s.Roles); err != nil {
		return nil, err
	}
	roles := slices.Compact(slices.Sorted(slices.Values(inv.Roles)))
	groups, err := normalGroups(inv.Groups)
	if err != nil {
		return nil, err
	}
	if inv.Email = strings.TrimSpace(inv.Email); inv.Email != "" {
		a, err := mail.ParseAddress(inv.Email)
		if err != nil || a.Address != inv.Email || len(inv.Email) > 254 {
			return nil, ordergate.FieldError(ordergate.EUNPROCESSABLE, "email", "not an e-mail address such as name@example.com")
		}
	}
	if inv.Phone = strings.TrimSpace(inv.Phone); inv.Phone != "" {
		if inv.Phone, err = sms.Normalize(inv.Phone, ""); err != nil {
			return nil, err
		}
	}
	// Nobody knows this password: the account cannot sign in until the
	// invitation is accepted.
	hash, err := password.Hash(rand.Text() + rand.Text())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	granted := grantedPrivileges(nil, roles)
	first := slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return slices.Contains(granted, r) })
	if len(first) == 0 {
		// A role request holds the privileged roles; until it is approved
		// the user has the least of the default roles.
		first = []string{RoleClerk}
	}
	u := &User{Username: inv.Username, PasswordHash: hash, Email: inv.Email, Phone: inv.Phone, Roles: first, Groups: groups, CreatedAt: now}
	token := NewToken()
	link := &AccountLink{Kind: LinkInvitation, TokenHash: HashToken(token), CreatedBy: actor.ID, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	var req *RoleRequest
	if len(granted) > 0 {
		req = &RoleRequest{Roles: roles, Groups: groups, RequestedBy: actor.ID, Status: RoleRequestPending,
			CreatedAt: now, ExpiresAt: now.Add(RoleRequestTTL)}
	}
	ev := audit.Event{At: now, Action: "user.invited", Outcome: audit.OutcomeOK, Actor: actor,
		Data: map[string]any{"username": u.Username, "roles": first, "groups": groups, "requested_roles": roles,
			"email": inv.Email != "", "phone": sms.Mask(inv.Phone), "expires_at": link.ExpiresAt}}
	if inv.Phone == "" {
		delete(ev.Data, "phone")
	}
	if err := s.adminStore().CreateInvitation(ctx, u, link, req, ev); err != nil {
		if e, ok := err.(*ordergate.Error); ok && e.Code == ordergate.ECONFLICT {
			return nil, ordergate.FieldError(ordergate.EUNPROCESSABLE, "username", "already taken")
		}
		return nil, err
	}
	s.Log.Info("user invited", "event", "user.invited", "user_id", actor.ID, "subject_id", u.ID, "link_id", link.ID)
	return &IssuedLink{Link: link, Token: token, User: u, RoleRequest: req}, nil
}

func asUnprocessable(err error) error {
	if e, ok := err.(*ordergate.Error); ok {
		c := *e
		c.Code = ordergate.EUNPROCESSABLE
		return &c
	}
	return err
}

// ErrLinkUsed, ErrLinkExpired and ErrLinkUnknown say why a one-time link
// cannot be used; their code is ENOTFOUND and their message tells the
// person what to do.
var (
	ErrLinkUsed = &ordergate.Error{Code: ordergate.ENOTFOUND, Message: "this link was already used; ask an administrator for a new one",
		Details: map[string]any{"reason": "used"}}
	ErrLinkExpired = &ordergate.Error{Code: ordergate.ENOTFOUND, Message: "this link has expired; ask an administrator for a new one",
		Details: map[string]any{"reason": "expired"}}
	ErrLinkUnknown = &ordergate.Error{Code: ordergate.ENOTFOUND, Message: "this link is not valid; check that you copied all of it, or ask an administrator for a new one",
		Details: map[string]any{"reason": "unknown"}}
)

// OpenLink returns the usable link of kind for token and its user, or
// ErrLinkUnknown, ErrLinkUsed or ErrLinkExpired.
func (s *Service) OpenLink(ctx context.Context, kind, token string) (*AccountLink, *User, error) {
	if token == "" || len(token) > 128 {
		return nil, nil, ErrLinkUnknown
	}
	link, err := s.adminStore().AccountLink(ctx, HashToken(token))
	if ordergate.ErrorCode(err) == ordergate.ENOTFOUND || (err == nil && link.Kind != kind) {
		return nil, nil, ErrLinkUnknown
	} else if err != nil {
		return nil, nil, err
	}
	switch {
	case !link.UsedAt.IsZero():
		return nil, nil, ErrLinkUsed
	case !s.Clock.Now().Before(link.ExpiresAt):
		return nil, nil, ErrLinkExpired
	}
	u, err := s.Store.UserByID(ctx, link.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, ErrLinkUnknown
	}
	return link, u, nil
}

// AcceptInvitation spends an invitation link: the user's password becomes
// pw (which must pass password.Check) and an enrollment-only session
// starts, in which the user must enroll a second factor. The link is
// consumed atomically: of two concurrent accepts one wins.
func (s *Service) AcceptInvitation(ctx context.Context, token, pw string, c Client) (*LoginResult, error) {
	link, u, hash, err := s.openLinkForPassword(ctx, LinkInvitation, "invitation.accept", token, pw, c)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	auth := ordergate.AuthContext{AAL: ordergate.AALNone, AMR: []string{ordergate.AMRPassword}, AuthTime: now,
		FactorTimes: map[string]time.Time{ordergate.AMRPassword: now}, ClientIP: c.IP, UserAgent: c.UserAgent}
	tok, sess := s.newSession(u.ID, StateEnrollment, auth)
	ev := audit.Event{At: now, Action: "invitation.accepted", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"link_id": link.ID, "invited_by": link.CreatedBy}}
	if err := s.adminStore().UseAccountLink(ctx, link.TokenHash, hash, sess, ev); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			return nil, ErrLinkUsed
		}
		return nil, err
	}
	s.Log.Info("invitation accepted", "event", "invitation.accepted", "user_id", u.ID, "client_ip", c.IP)
	methods := slices.DeleteFunc(s.allowedMethods(u), func(m string) bool { return m == MethodBackupCode })
	return &LoginResult{State: LoginEnrollmentRequired, Token: tok, Session: sess, User: u, Methods: methods, Deadline: now}, nil
}

// openLinkForPassword opens a one-time link of kind that sets the user's
// password to pw, and returns pw's hash; an unusable link is audited as
// action, and a password that fails password.Check is refused.
func (s *Service) openLinkForPassword(ctx context.Context, kind, action, token, pw string, c Client) (*AccountLink, *User, string, error) {
	link, u, err := s.OpenLink(ctx, kind, token)
	if err != nil {
		s.linkRefused(ctx, action, err, c)
		return nil, nil, "", err
	}
	if err := password.Check(pw, u.Username); err != nil {
		return nil, nil, "", err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return nil, nil, "", err
	}
	return link, u, hash, nil
}

// linkRefused audits an attempt with an unusable link.
func (s *Service) linkRefused(ctx context.Context, action string, err error, c Client) {
	e, ok := err.(*ordergate.Error)
	if !ok {
		return
	}
	ev := audit.Event{At: s.Clock.Now(), Action: action, Outcome: audit.OutcomeFailed, Actor: anonymous(c),
		Data: map[string]any{"reason": e.Details["reason"]}}
	if err := s.Store.AppendAudit(ctx, ev); err != nil {
		s.Log.Error("audit", "event", action, "err", err)
	}
	s.Log.Info("one-time link refused", "event", action+".failed", "reason", e.Details["reason"], "client_ip", c.IP)
}

// IssuePasswordReset creates a one-time password-reset link for user id,
// valid PasswordResetTTL, replacing earlier unused ones. The administrator
// sees the link once, never a password.
func (s *Service) IssuePasswordReset(ctx context.Context, actor ordergate.Actor, id string) (*IssuedLink, error) {
	if err := requireAdministrator(actor, true); err != nil {
		return nil, err
	}
	if id == actor.ID {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "change your own password from your account page")
	}
	u, err := s.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, ordergate.Errorf(ordergate.ECONFLICT, "the user is disabled; enable the account first")
	}
	now := s.Clock.Now()
	token := NewToken()
	link := &AccountLink{Kind: LinkPasswordReset, UserID: u.ID, TokenHash: HashToken(token), CreatedBy: actor.ID,
		CreatedAt: now, ExpiresAt: now.Add(PasswordResetTTL)}
	ev := audit.Event{At: now, Action: "password.reset_issued", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"username": u.Username, "expires_at": link.ExpiresAt}}
	if err := s.adminStore().CreateAccountLink(ctx, link, ev); err != nil {
		return nil, err
	}
	s.Log.Info("password reset issued", "event", "password.reset_issued", "user_id", actor.ID, "subject_id", u.ID, "link_id", link.ID)
	return &IssuedLink{Link: link, Token: token, User: u}, nil
}

// AcceptPasswordReset spends a reset link: the user's password becomes pw
// and all of the user's sessions end. The user then signs in as usual,
// second factor included.
func (s *Service) AcceptPasswordReset(ctx context.Context, token, pw string, c Client) (*User, error) {
	link, u, hash, err := s.openLinkForPassword(ctx, LinkPasswordReset, "password.reset", token, pw, c)
	if err != nil {
		return nil, err
	}
	ev := audit.Event{At: s.Clock.Now(), Action: "password.reset", Outcome: audit.OutcomeOK, Actor: anonymous(c), SubjectID: u.ID,
		Data: map[string]any{"link_id": link.ID, "issued_by": link.CreatedBy, "sessions_revoked": true}}
	ev.Actor.ID, ev.Actor.Name = u.ID, u.Username
	if err := s.adminStore().UseAccountLink(ctx, link.TokenHash, hash, nil, ev); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			return nil, ErrLinkUsed
		}
		return nil, err
	}
	// The new password, once saved, ends "trust this browser" everywhere.
	if err := s.ForgetRememberedDevices(ctx, ev.Actor, u.ID, "password_reset"); err != nil {
		return nil, err
	}
	if err := s.Store.ThrottleReset(ctx, "login:user:"+u.Username); err != nil {
		return nil, err
	}
	s.Log.Info("password reset", "event", "password.reset", "user_id", u.ID, "client_ip", c.IP)
	return u, nil
}

// ChangePassword replaces u's password after checking the current one,
// and ends all of u's other sessions. A user with a second factor must
// have proven it within PasswordChangeMaxAge (ESTEPUP otherwise). A wrong
// current password is ECREDENTIALS naming "current_password" and counts
// against the account's throttle.
func (s *Service) ChangePassword(ctx context.Context, sess *Session, u *User, current, next string) error {
	if sess.State != StateActive {
		return ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(enrolledMethods(fs)) > 0 {
		if err := s.RequireFresh(sess.Auth, []string{MethodWebAuthn, MethodTOTP, MethodSMS, MethodBackupCode}, PasswordChangeMaxAge); err != nil {
			return err
		}
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	key := "login:user:" + u.Username
	if err := s.checkThrottle(ctx, []string{key}, "password.change", u.Username, c); err != nil {
		return err
	}
	ok, _, err := password.Verify(current, u.PasswordHash)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	if !ok {
		ev := audit.Event{At: now, Action: "password.change", Outcome: audit.OutcomeFailed, Actor: UserActor(u, sess), SubjectID: u.ID,
			Data: map[string]any{"reason": "wrong_password"}}
		if _, err := s.Store.ThrottleFail(ctx, key, AccountThrottle, now, ev); err != nil {
			return err
		}
		return &ordergate.Error{Code: ordergate.ECREDENTIALS, Message: "the current password is wrong",
			Fields: map[string]string{"current_password": "wrong"}}
	}
	if err := password.Check(next, u.Username); err != nil {
		e := *err.(*ordergate.Error)
		e.Fields = map[string]string{"new_password": e.Fields["password"]}
		return &e
	}
	if next == current {
		return ordergate.FieldError(ordergate.EINVALID, "new_password", "must differ from the current password")
	}
	hash, err := password.Hash(next)
	if err != nil {
		return err
	}
	ev := audit.Event{At: now, Action: "password.changed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"other_sessions_revoked": true}}
	if err := s.adminStore().SetPassword(ctx, u.ID, hash, sess.ID, ev); err != nil {
		return err
	}
	// The new password, once saved, ends "trust this browser" everywhere.
	if err := s.ForgetRememberedDevices(ctx, UserActor(u, sess), u.ID, "password_change"); err != nil {
		return err
	}
	s.Log.Info("password changed", "event", "password.changed", "user_id", u.ID)
	return nil
}
