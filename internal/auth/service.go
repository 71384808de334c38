package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/password"
)

// Client is where a request comes from.
type Client struct {
	IP        string
	UserAgent string
	// DeviceID is the browser's identifier from its verified device
	// cookie; empty when it sent none.
	DeviceID string
}

// Login states, as the login API answers them.
const (
	LoginAuthenticated      = "authenticated"
	LoginMFARequired        = "mfa_required"
	LoginEnrollmentRequired = "enrollment_required"
)

// LoginResult is the answer to a login step.
type LoginResult struct {
	State   string
	Token   string
	Session *Session
	User    *User
	// Methods lists the second factors the user may use or enroll.
	Methods []string
	// Reasons says why a second factor is needed.
	Reasons  []string
	Deadline time.Time
	// BackupCodesLeft is set when a backup code was used to sign in.
	BackupCodesLeft *int
	// Risk is the risk side of a password login; nil when adaptive
	// authentication is off.
	Risk *LoginRisk
	// PostponesLeft is how many more times the user may put off an
	// enrollment that a rollout phase in its grace period asks for.
	PostponesLeft int
}

// Service runs sign-in, sessions and user administration.
type Service struct {
	Store    Store
	Clock    ordergate.Clock
	Log      *slog.Logger
	Sessions SessionPolicy
	// Roles are the roles users may hold.
	Roles []string
	// Policy decides when a second factor is needed.
	Policy Policy
	// Sealer encrypts factor secrets at rest.
	Sealer Sealer
	// Recovery configures SMS codes, factor resets and notifications;
	// nil turns them off.
	Recovery *Recovery
	// WebAuthn configures security keys and passkeys; nil turns them off.
	WebAuthn *WebAuthn
	// Adaptive configures risk-based authentication; nil turns it off.
	Adaptive *Adaptive
	// Security counts security events (see SecurityKinds); nil counts
	// nothing, the audit log still keeps them.
	Security SecuritySink
}

// NewService returns a Service with NIST default session timeouts and the
// default policy.
func NewService(store Store, sealer Sealer, clock ordergate.Clock, log *slog.Logger) *Service {
	return &Service{Store: store, Sealer: sealer, Clock: clock, Log: log, Sessions: DefaultSessionPolicy, Roles: DefaultRoles,
		Policy: DefaultPolicy()}
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username string
	Password string
	Email    string
	Phone    string
	Roles    []string
	Groups   []string
}

// CreateUser checks and stores a new user on behalf of actor. It returns
// EINVALID naming the field at fault and ECONFLICT for a taken username.
func (s *Service) CreateUser(ctx context.Context, actor ordergate.Actor, nu NewUser) (*User, error) {
	nu.Username = strings.ToLower(strings.TrimSpace(nu.Username))
	if err := ValidUsername(nu.Username); err != nil {
		return nil, err
	}
	if err := ValidRoles(nu.Roles, s.Roles); err != nil {
		return nil, err
	}
	phone, err := userPhone(nu.Phone)
	if err != nil {
		return nil, err
	}
	nu.Phone = phone
	if err := password.Check(nu.Password, nu.Username); err != nil {
		return nil, err
	}
	hash, err := password.Hash(nu.Password)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	u := &User{Username: nu.Username, PasswordHash: hash, Email: nu.Email, Phone: nu.Phone,
		Roles: nu.Roles, Groups: nu.Groups, CreatedAt: now}
	ev := audit.Event{At: now, Action: "user.created", Outcome: audit.OutcomeOK, Actor: actor,
		Data: map[string]any{"username": u.Username, "roles": u.Roles, "groups": u.Groups}}
	if err := s.Store.CreateUser(ctx, u, ev); err != nil {
		return nil, err
	}
	return u, nil
}

// Login checks a username and password. Unknown users and wrong passwords
// get the same ECREDENTIALS error after the same amount of work; guessing
// is throttled per account and per client address (ERATELIMIT).
func (s *Service) Login(ctx context.Context, username, pw string, c Client) (*LoginResult, error) {
	started := s.Clock.Now()
	username = strings.ToLower(strings.TrimSpace(username))
	keys := []string{"login:user:" + username, "login:ip:" + c.IP}
	if err := s.checkThrottle(ctx, keys, "login", username, c); err != nil {
		return nil, err
	}
	u, err := s.Store.UserByUsername(ctx, username)
	if err != nil && ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		return nil, err
	}
	ok, rehash := false, false
	reason := "unknown_user"
	if u == nil {
		password.VerifyDummy(pw)
	} else {
		ok, rehash, err = password.Verify(pw, u.PasswordHash)
		if err != nil {
			return nil, err
		}
		reason = "wrong_password"
		if ok && u.Disabled {
			ok, reason = false, "disabled"
		}
	}
	if !ok {
		return nil, s.loginFailed(ctx, u, username, reason, keys, c)
	}
	if err := s.Store.ThrottleReset(ctx, keys[0]); err != nil {
		return nil, err
	}
	newHash := ""
	if rehash {
		if newHash, err = password.Hash(pw); err != nil {
			return nil, err
		}
	}
	if err := s.Store.RecordLogin(ctx, u.ID, started, newHash); err != nil {
		return nil, err
	}
	state, res, err := s.secondStep(ctx, u, c, started)
	if err != nil {
		return nil, err
	}
	aal := ordergate.AAL1
	if state != StateActive {
		aal = ordergate.AALNone
	}
	auth := ordergate.AuthContext{AAL: aal, AMR: []string{ordergate.AMRPassword}, AuthTime: started,
		FactorTimes: map[string]time.Time{ordergate.AMRPassword: started}, ClientIP: c.IP, UserAgent: c.UserAgent}
	auth.Risk = res.Risk.Reasons()
	token, sess := s.newSession(u.ID, state, auth)
	ev := audit.Event{At: started, Action: "login", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"state": res.State, "reasons": res.Reasons}}
	if err := s.Store.CreateSession(ctx, sess, ev); err != nil {
		return nil, err
	}
	if err := s.recordLoginRisk(ctx, u, sess, c, res); err != nil {
		return nil, err
	}
	s.Log.Info("login", "event", "login.password_ok", "user_id", u.ID, "client_ip", c.IP, "state", res.State)
	res.Token, res.Session, res.User = token, sess, u
	return res, nil
}

func (s *Service) checkThrottle(ctx context.Context, keys []string, step, username string, c Client) error {
	now := s.Clock.Now()
	for _, k := range keys {
		l, err := s.Store.ThrottleState(ctx, k)
		if err != nil {
			return err
		}
		if wait := l.RetryAfter(now); wait > 0 {
			ev := audit.Event{At: now, Action: step + ".throttled", Outcome: audit.OutcomeThrottled,
				Actor: anonymous(c), Data: map[string]any{"username": username, "key": strings.SplitN(k, ":", 3)[1]}}
			kind := throttleKind(step)
			sec := securityEvent(now, kind, ev.Actor, "", map[string]any{"step": step, "username": username})
			if err := s.Store.AppendAudit(ctx, ev, sec); err != nil {
				return err
			}
			s.counted(kind)
			s.Log.Warn("throttled", "event", step+".throttled", "client_ip", c.IP, "retry_after", wait)
			return &ordergate.Error{Code: ordergate.ERATELIMIT, Message: "too many attempts; try again later", RetryAfter: wait}
		}
	}
	return nil
}

// throttleFailures counts a failure on keys[0] under the account
// throttle and on keys[1] (the client's address) under the address
// throttle, and appends ev with the second.
func (s *Service) throttleFailures(ctx context.Context, keys []string, now time.Time, ev audit.Event) error {
	if _, err := s.Store.ThrottleFail(ctx, keys[0], AccountThrottle, now); err != nil {
		return err
	}
	_, err := s.Store.ThrottleFail(ctx, keys[1], AddressThrottle, now, ev)
	return err
}

func (s *Service) loginFailed(ctx context.Context, u *User, username, reason string, keys []string, c Client) error {
	now := s.Clock.Now()
	ev := audit.Event{At: now, Action: "login", Outcome: audit.OutcomeFailed, Actor: anonymous(c),
		Data: map[string]any{"username": username, "reason": reason}}
	if u != nil {
		ev.SubjectID = u.ID
	}
	if err := s.throttleFailures(ctx, keys, now, ev); err != nil {
		return err
	}
	if err := s.recordFailedLogin(ctx, u, c, now); err != nil {
		return err
	}
	s.Log.Info("login failed", "event", "login.failed", "reason", reason, "client_ip", c.IP)
	return ordergate.Errorf(ordergate.ECREDENTIALS, "invalid username or password")
}

func (s *Service) newSession(userID string, st State, auth ordergate.AuthContext) (string, *Session) {
	now := s.Clock.Now()
	token := NewToken()
	sess := &Session{ID: HashToken(token), UserID: userID, State: st, Auth: auth, CSRFToken: rand.Text(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.Sessions.For(st, auth.AAL).Absolute)}
	sess.Auth.SessionID = sess.PublicID()
	return token, sess
}

// ErrNoSession is returned by Authenticate for a missing, expired or
// revoked session; its code is EUNAUTHORIZED.
var ErrNoSession = ordergate.Errorf(ordergate.EUNAUTHORIZED, "not signed in or session expired")

// Authenticate returns the session and user for a token, moving its idle
// timer. It returns ErrNoSession when the token is unknown, expired or its
// user is disabled.
func (s *Service) Authenticate(ctx context.Context, token string) (*Session, *User, error) {
	if token == "" {
		return nil, nil, ErrNoSession
	}
	sess, err := s.Store.SessionByID(ctx, HashToken(token))
	if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
		return nil, nil, ErrNoSession
	} else if err != nil {
		return nil, nil, err
	}
	now := s.Clock.Now()
	if s.Sessions.Expired(sess, now) {
		if err := s.Store.DeleteSession(ctx, sess.ID); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrNoSession
	}
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, ErrNoSession
	}
	// Writing on every request would make reads serialize on the database;
	// a minute's precision is plenty for an idle timer of 15 minutes or more.
	if now.Sub(sess.LastSeenAt) >= time.Minute {
		if err := s.Store.TouchSession(ctx, sess.ID, now); err != nil {
			return nil, nil, err
		}
		sess.LastSeenAt = now
	}
	return sess, u, nil
}

// Logout ends the session.
func (s *Service) Logout(ctx context.Context, sess *Session, u *User) error {
	ev := audit.Event{At: s.Clock.Now(), Action: "logout", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID}
	err := s.Store.DeleteSession(ctx, sess.ID, ev)
	if errors.Is(err, ErrNoSession) {
		return nil
	}
	return err
}

// UserActor is the audit actor for u acting through sess.
func UserActor(u *User, sess *Session) ordergate.Actor {
	a := ordergate.Actor{Kind: ordergate.ActorUser, ID: u.ID, Name: u.Username, Roles: u.Roles}
	if sess != nil {
		a.Auth = sess.Auth
	}
	return a
}

func anonymous(c Client) ordergate.Actor {
	return ordergate.Actor{Kind: ordergate.ActorUser, Auth: ordergate.AuthContext{ClientIP: c.IP, UserAgent: c.UserAgent}}
}

// newFactorID returns a new factor or backup-code identifier.
func newFactorID() string { return "fac_" + strings.ToLower(rand.Text()[:20]) }
