package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/backupcode"
	"github.com/ordergate/ordergate/internal/auth/sms"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// Sealer encrypts secrets at rest; aad binds a ciphertext to its row.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// methodAMR maps a second-factor method to the amr values it yields.
var methodAMR = map[string][]string{
	MethodTOTP:       {ordergate.AMROTP},
	MethodSMS:        {ordergate.AMRSMS},
	MethodWebAuthn:   {ordergate.AMRHardware, ordergate.AMRSoftware},
	MethodBackupCode: {ordergate.AMRBackup},
}

// enrolledMethods lists the methods of a user's confirmed factors.
func enrolledMethods(fs []*Factor) []string {
	var out []string
	for _, f := range fs {
		if m := factorMethod(f.Type); f.Confirmed && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// secondStep decides, after a correct password, whether the login is
// done, needs a second factor, or needs enrollment first.
func (s *Service) secondStep(ctx context.Context, u *User, c Client, now time.Time) (State, *LoginResult, error) {
	factors, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return "", nil, err
	}
	enrolled := enrolledMethods(factors)
	req := s.Policy.Require(u, c.IP, enrolled, now)
	policyNeed := req.Need
	lr, err := s.assessLogin(ctx, u, c, now)
	if err != nil {
		return "", nil, err
	}
	if err := s.applyRisk(ctx, u, c, lr, &req, now); err != nil {
		return "", nil, err
	}
	res := &LoginResult{Reasons: req.Reasons, Risk: lr}
	if req.Reminder {
		res.Deadline = req.Deadline
	}
	if !req.Need && req.Grace {
		res.State = LoginEnrollmentRequired
		res.Methods = slices.DeleteFunc(slices.Clone(req.Methods), func(m string) bool { return m == MethodBackupCode })
		res.PostponesLeft = max(0, MaxPostponements-u.Postponements)
		return StateEnrollment, res, nil
	}
	if !req.Need {
		res.State = LoginAuthenticated
		return StateActive, res, nil
	}
	left, err := s.Store.BackupCodesLeft(ctx, u.ID)
	if err != nil {
		return "", nil, err
	}
	for _, m := range req.Methods {
		if slices.Contains(enrolled, m) || (m == MethodBackupCode && left > 0 && len(enrolled) > 0) {
			res.Methods = append(res.Methods, m)
		}
	}
	if len(res.Methods) > 0 {
		res.State = LoginMFARequired
		return StatePending, res, nil
	}
	if ok, why := s.mayEnrollUnderRisk(lr, policyNeed, c.IP, req.Methods, enrolled); !ok {
		return "", nil, s.denyLogin(ctx, u, c, lr, append(lr.Reasons(), why))
	}
	res.State = LoginEnrollmentRequired
	res.Methods = slices.DeleteFunc(slices.Clone(req.Methods), func(m string) bool { return m == MethodBackupCode })
	if req.Deadline.IsZero() {
		res.Deadline = now
	}
	return StateEnrollment, res, nil
}

// mfaKey is the throttle key for a user's second-factor guesses.
func mfaKey(u *User) string { return "mfa:user:" + u.ID }

// VerifyResult is what a correct second factor yields.
type VerifyResult struct {
	Method string
	AMR    string
	// BackupCodesLeft is set when a backup code was used.
	BackupCodesLeft int
	FactorID        string
	// Step is the TOTP time step a right code would spend, still unspent:
	// set only by checkFactor, for the caller to spend in its own write.
	Step *UsedStep
}

// verifyFactor checks code for method against u's factors, throttled per
// account: after AccountThrottle.Free failures even the right code is
// refused until the wait has passed. Wrong, reused and unknown codes all
// give the same ECODE error. A right code is spent.
func (s *Service) verifyFactor(ctx context.Context, u *User, sess *Session, method, code, step string) (*VerifyResult, error) {
	res, err := s.checkFactor(ctx, u, sess, method, code, step)
	if err != nil {
		return nil, err
	}
	if res.Step != nil {
		fresh, err := s.Store.UseTOTPStep(ctx, res.FactorID, res.Step.Step, res.Step.At)
		if err != nil {
			return nil, err
		}
		if !fresh { // another request used the step meanwhile
			return nil, s.factorFailed(ctx, u, sess, method, step, true)
		}
		res.Step = nil
	}
	if err := s.Store.ThrottleReset(ctx, mfaKey(u)); err != nil {
		return nil, err
	}
	return res, nil
}

// checkFactor is verifyFactor but for two things its caller must do: spend
// res.Step when it is set (a TOTP code), and forget the account's
// throttled failures.
func (s *Service) checkFactor(ctx context.Context, u *User, sess *Session, method, code, step string) (*VerifyResult, error) {
	code = strings.Join(strings.Fields(code), "")
	switch method {
	case MethodTOTP:
		if !totp.ValidFormat(code, totp.Params{Algorithm: totp.SHA1, Digits: 6, Period: 30 * time.Second}) &&
			!totp.ValidFormat(code, totp.Params{Algorithm: totp.SHA1, Digits: 8, Period: 30 * time.Second}) {
			return nil, ordergate.FieldError(ordergate.EINVALID, "code", "must be 6 or 8 digits")
		}
	case MethodBackupCode:
		if _, ok := backupcode.Normalize(code); !ok {
			return nil, ordergate.FieldError(ordergate.EINVALID, "code", "must be a backup code like abcde-12345")
		}
	case MethodSMS:
		if !sms.ValidFormat(code) {
			return nil, ordergate.FieldError(ordergate.EINVALID, "code", "must be 6 digits")
		}
	case MethodWebAuthn:
		// A security key answers a challenge, not a code: it has its own
		// endpoints, and this is a wrong request, not a failed attempt.
		where := "/api/v1/login/webauthn/begin and /finish"
		if step == "step_up" {
			where = "/api/v1/step-up/webauthn/begin and /finish"
		}
		return nil, ordergate.FieldError(ordergate.EINVALID, "method", "webauthn takes no code; use "+where)
	default:
		return nil, ordergate.FieldError(ordergate.EINVALID, "method", "must be one of totp, sms, backup_code")
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, step, u.Username, c); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var res *VerifyResult
	var err error
	switch method {
	case MethodTOTP:
		res, err = s.verifyTOTP(ctx, u, code, now)
	case MethodBackupCode:
		res, err = s.useBackupCode(ctx, u, sess, code, now)
	case MethodSMS:
		res, err = s.verifySMSFactor(ctx, u, code, now)
	}
	// A replayed code fails like a wrong one; only the audit log, the
	// log and the security events tell them apart.
	replayed := errors.Is(err, errCodeReplayed)
	if replayed {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, s.factorFailed(ctx, u, sess, method, step, replayed)
	}
	return res, nil
}

// factorFailed counts a wrong or replayed code against u's account,
// records it, and returns the ECODE error the client sees for both.
func (s *Service) factorFailed(ctx context.Context, u *User, sess *Session, method, step string, replayed bool) error {
	now := s.Clock.Now()
	ev := audit.Event{At: now, Action: step, Outcome: audit.OutcomeFailed, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"method": method}}
	evs := []audit.Event{ev}
	if replayed {
		ev.Data["reason"] = "replayed"
		evs = append(evs, securityEvent(now, SecurityCodeReplayed, ev.Actor, u.ID, map[string]any{"method": method, "step": step}))
	}
	if _, err := s.Store.ThrottleFail(ctx, mfaKey(u), AccountThrottle, now, evs...); err != nil {
		return err
	}
	if replayed {
		s.counted(SecurityCodeReplayed)
	}
	s.Log.Info("second factor failed", "event", step+".failed", "user_id", u.ID, "method", method, "client_ip", sess.Auth.ClientIP, "replayed", replayed)
	return ordergate.Errorf(ordergate.ECODE, "invalid code")
}

// totpParams reads a TOTP factor's parameters.
func totpParams(f *Factor) (totp.Params, error) {
	p := totp.DefaultParams
	if len(f.Params) > 0 {
		if err := json.Unmarshal(f.Params, &p); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (s *Service) openSecret(f *Factor) ([]byte, error) {
	return s.Sealer.Open(f.Secret, FactorAAD(f.Type, f.ID))
}

// FactorAAD is the additional data that binds a factor's sealed secret to
// its row, so a secret copied into another row does not open.
func FactorAAD(typ, id string) []byte { return []byte(typ + ":" + id) }

// errCodeReplayed is the cause, never shown to the client, of a one-time
// code that was right once but is used up: a TOTP time step already
// accepted, or a used backup code.
var errCodeReplayed = errors.New("one-time code already used")

// verifyTOTP returns nil, nil for a wrong code and errCodeReplayed for a
// code of a time step already used. A right code's step is left for the
// caller to spend (res.Step); a hardware token's is spent here.
func (s *Service) verifyTOTP(ctx context.Context, u *User, code string, now time.Time) (*VerifyResult, error) {
	factors, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	replayed := false
	for _, f := range factors {
		if f.Type != MethodTOTP || !f.Confirmed {
			continue
		}
		p, err := totpParams(f)
		if err != nil {
			return nil, err
		}
		seed, err := s.openSecret(f)
		if err != nil {
			return nil, err
		}
		step, ok := totp.Verify(seed, code, now, p, f.LastUsedStep)
		if ok {
			return &VerifyResult{Method: MethodTOTP, AMR: ordergate.AMROTP, FactorID: f.ID,
				Step: &UsedStep{FactorID: f.ID, Step: step, At: now}}, nil
		}
		// Right for the time but at or below the last used step.
		_, used := totp.Verify(seed, code, now, p, 0)
		replayed = replayed || used
	}
	if replayed {
		return nil, errCodeReplayed
	}
	return s.verifyHOTP(ctx, factors, code, now)
}

// useBackupCode returns nil, nil for a wrong code and errCodeReplayed for
// a used one.
func (s *Service) useBackupCode(ctx context.Context, u *User, sess *Session, code string, now time.Time) (*VerifyResult, error) {
	lookup, _ := backupcode.Lookup(code)
	norm, _ := backupcode.Normalize(code)
	cands, err := s.Store.BackupCodeCandidates(ctx, u.ID, lookup)
	if err != nil {
		return nil, err
	}
	for _, bc := range cands {
		if !backupcode.Verify(norm, bc.Hash) {
			continue
		}
		if !bc.UsedAt.IsZero() {
			return nil, errCodeReplayed
		}
		ev := audit.Event{At: now, Action: "backup_code.used", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID}
		used, left, err := s.Store.UseBackupCode(ctx, bc.ID, now, ev)
		if err != nil {
			return nil, err
		}
		if !used {
			return nil, errCodeReplayed
		}
		return &VerifyResult{Method: MethodBackupCode, AMR: ordergate.AMRBackup, BackupCodesLeft: left}, nil
	}
	return nil, nil
}

// upgrade replaces sess with a new active session at AAL2 that records the
// second factor, and returns its token.
func (s *Service) upgrade(ctx context.Context, u *User, sess *Session, amr string, evs ...audit.Event) (string, *Session, error) {
	return s.upgradeAMR(ctx, u, sess, []string{amr}, SessionUpgrade{Events: evs})
}

// upgradeAMR is upgrade for a factor that proves several methods at once
// (a security key with user verification: hwk and user), writing what up
// adds (a step to spend, a throttle to forget, a login to confirm) in the
// same transaction. The events' actor is the new session.
func (s *Service) upgradeAMR(ctx context.Context, u *User, sess *Session, amrs []string, up SessionUpgrade) (string, *Session, error) {
	now := s.Clock.Now()
	auth := sess.Auth
	auth.AAL = ordergate.AAL2
	auth.FactorTimes = cloneTimes(auth.FactorTimes)
	for _, amr := range amrs {
		auth.AMR = appendNew(auth.AMR, amr)
		auth.FactorTimes[amr] = now
	}
	token, next := s.newSession(u.ID, StateActive, auth)
	up.OldID, up.Next = sess.ID, next
	for i := range up.Events {
		up.Events[i].Actor = UserActor(u, next)
	}
	if err := s.Store.UpgradeSession(ctx, up); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			return "", nil, ErrNoSession
		}
		return "", nil, err
	}
	return token, next, nil
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(slices.Clone(list), v)
}

func cloneTimes(m map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CompleteLogin checks the second factor of a pending session and, when it
// is right, replaces the session with a new token at AAL2.
func (s *Service) CompleteLogin(ctx context.Context, sess *Session, u *User, method, code string) (*LoginResult, error) {
	if sess.State != StatePending {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "no second factor is pending for this session")
	}
	// One transaction spends the code's time step, forgets the account's
	// failures, replaces the session and confirms the login.
	res, err := s.checkFactor(ctx, u, sess, method, code, "login.mfa")
	if err != nil {
		return nil, err
	}
	ev := audit.Event{Action: "login.mfa", Outcome: audit.OutcomeOK, SubjectID: u.ID, Data: map[string]any{"method": method}}
	if method == MethodBackupCode {
		ev.Data["backup_codes_left"] = res.BackupCodesLeft
	}
	up := SessionUpgrade{Step: res.Step, ThrottleKey: mfaKey(u), Login: s.loginConfirmation(u, sess), Events: []audit.Event{ev}}
	token, next, err := s.upgradeAMR(ctx, u, sess, []string{res.AMR}, up)
	if errors.Is(err, ErrStepUsed) { // another request used the step meanwhile
		return nil, s.factorFailed(ctx, u, sess, method, "login.mfa", true)
	}
	if err != nil {
		return nil, err
	}
	s.Log.Info("login", "event", "login.ok", "user_id", u.ID, "method", method, "aal", 2)
	out := &LoginResult{State: LoginAuthenticated, Token: token, Session: next, User: u}
	if method == MethodBackupCode {
		left := res.BackupCodesLeft
		out.BackupCodesLeft = &left
	}
	return out, nil
}

// TOTPEnrollment is a new, unconfirmed TOTP factor.
type TOTPEnrollment struct {
	ID     string
	Secret string
	URI    string
	QRPNG  string
}

// allowedMethods returns the methods policy lets u use.
func (s *Service) allowedMethods(u *User) []string {
	allowed := map[string]bool{}
	for _, ph := range s.Policy.Rollout {
		if ph.applies(u) {
			for _, m := range ph.Methods {
				allowed[m] = true
			}
		}
	}
	return s.Policy.Methods(u, allowed)
}

// requireEnrolling refuses sessions that may not add factors: pending ones,
// and active AAL1 sessions of a user who already has a factor (binding a
// new authenticator needs the assurance of the existing ones).
func (s *Service) requireEnrolling(ctx context.Context, sess *Session, u *User) error {
	switch sess.State {
	case StateEnrollment:
		return s.requireVouch(ctx, sess, u)
	case StateActive:
		if sess.Auth.AAL >= ordergate.AAL2 {
			return nil
		}
		fs, err := s.Store.Factors(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(enrolledMethods(fs)) == 0 {
			return s.requireVouch(ctx, sess, u)
		}
		return stepUpError([]string{MethodWebAuthn, MethodTOTP}, 0)
	default:
		return ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
}

// BeginTOTP creates an unconfirmed TOTP factor with a new 160-bit secret.
func (s *Service) BeginTOTP(ctx context.Context, sess *Session, u *User) (*TOTPEnrollment, error) {
	if err := s.requireEnrolling(ctx, sess, u); err != nil {
		return nil, err
	}
	if !slices.Contains(s.allowedMethods(u), MethodTOTP) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "your role may not use an authenticator app; use a security key")
	}
	seed, err := totp.NewSecret()
	if err != nil {
		return nil, err
	}
	p := totp.DefaultParams
	params, _ := json.Marshal(p)
	f := &Factor{ID: newFactorID(), UserID: u.ID, Type: MethodTOTP, Name: "Authenticator app", Params: params, CreatedAt: s.Clock.Now()}
	if f.Secret, err = s.Sealer.Seal(seed, FactorAAD(f.Type, f.ID)); err != nil {
		return nil, err
	}
	ev := audit.Event{Action: "factor.enroll_started", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"type": MethodTOTP, "factor_id": f.ID}}
	if err := s.Store.CreateFactor(ctx, f, ev); err != nil {
		return nil, err
	}
	return totpEnrollment(f.ID, u.Username, seed, p)
}

// totpEnrollment shows TOTP factor id's seed as secret, URI and QR code.
func totpEnrollment(id, username string, seed []byte, p totp.Params) (*TOTPEnrollment, error) {
	uri := totp.URI("ordergate", username, seed, p)
	png, err := totp.QRPNG(uri)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrollment{ID: id, Secret: totp.EncodeSecret(seed), URI: uri, QRPNG: base64.StdEncoding.EncodeToString(png)}, nil
}

// unconfirmedTOTP returns u's unconfirmed TOTP factor id and its parameters,
// for a session that may enroll: ENOTFOUND for a factor that is not u's or
// not TOTP, ECONFLICT once it is confirmed.
func (s *Service) unconfirmedTOTP(ctx context.Context, sess *Session, u *User, id string) (*Factor, totp.Params, error) {
	if err := s.requireEnrolling(ctx, sess, u); err != nil {
		return nil, totp.Params{}, err
	}
	f, err := s.Store.Factor(ctx, u.ID, id)
	if err != nil {
		return nil, totp.Params{}, err
	}
	if f.Type != MethodTOTP {
		return nil, totp.Params{}, ordergate.Errorf(ordergate.ENOTFOUND, "factor not found")
	}
	if f.Confirmed {
		return nil, totp.Params{}, ordergate.Errorf(ordergate.ECONFLICT, "factor already confirmed")
	}
	p, err := totpParams(f)
	if err != nil {
		return nil, totp.Params{}, err
	}
	return f, p, nil
}

// ConfirmResult is the answer to a factor confirmation. When the session
// was enrollment-only or at AAL1 it has been replaced by an active AAL2
// session.
type ConfirmResult struct {
	ID      string
	Token   string
	Session *Session
}

// ConfirmTOTP activates an enrolled TOTP factor with one correct code. The
// code's time step is recorded as used, so it cannot also sign in.
func (s *Service) ConfirmTOTP(ctx context.Context, sess *Session, u *User, id, code string) (*ConfirmResult, error) {
	code = strings.Join(strings.Fields(code), "")
	f, p, err := s.unconfirmedTOTP(ctx, sess, u, id)
	if err != nil {
		return nil, err
	}
	if !totp.ValidFormat(code, p) {
		return nil, ordergate.FieldError(ordergate.EINVALID, "code", "must be 6 digits")
	}
	c := Client{IP: sess.Auth.ClientIP, UserAgent: sess.Auth.UserAgent}
	if err := s.checkThrottle(ctx, []string{mfaKey(u)}, "factor.confirm", u.Username, c); err != nil {
		return nil, err
	}
	seed, err := s.openSecret(f)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	step, ok := totp.Verify(seed, code, now, p, 0)
	if !ok {
		ev := audit.Event{At: now, Action: "factor.confirm", Outcome: audit.OutcomeFailed, Actor: UserActor(u, sess), SubjectID: u.ID,
			Data: map[string]any{"factor_id": f.ID}}
		if _, err := s.Store.ThrottleFail(ctx, mfaKey(u), AccountThrottle, now, ev); err != nil {
			return nil, err
		}
		return nil, ordergate.Errorf(ordergate.ECODE, "invalid code")
	}
	if err := s.Store.ThrottleReset(ctx, mfaKey(u)); err != nil {
		return nil, err
	}
	ev := audit.Event{At: now, Action: "factor.confirmed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"type": f.Type, "factor_id": f.ID}}
	if err := s.Store.ConfirmFactor(ctx, f.ID, step, ev); err != nil {
		return nil, err
	}
	res := &ConfirmResult{ID: f.ID}
	// Password and the factor just proven make AAL2; an AAL1 session that
	// enrolled its first factor rises too, as it would at the next login.
	if sess.State == StateEnrollment || sess.Auth.AAL < ordergate.AAL2 {
		up := SessionUpgrade{Login: s.loginConfirmation(u, sess), Events: []audit.Event{{Action: "login.enrolled", Outcome: audit.OutcomeOK,
			SubjectID: u.ID, Data: map[string]any{"method": f.Type}}}}
		if res.Token, res.Session, err = s.upgradeAMR(ctx, u, sess, []string{ordergate.AMROTP}, up); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// GenerateBackupCodes replaces u's backup codes with ten new ones, which
// are returned this once and stored only as hashes.
func (s *Service) GenerateBackupCodes(ctx context.Context, sess *Session, u *User) ([]string, error) {
	if err := s.requireEnrolling(ctx, sess, u); err != nil {
		return nil, err
	}
	codes, err := backupcode.Generate(backupcode.DefaultCount)
	if err != nil {
		return nil, err
	}
	rows := make([]BackupCode, len(codes))
	for i, c := range codes {
		lookup, phc, err := backupcode.Hash(c)
		if err != nil {
			return nil, err
		}
		rows[i] = BackupCode{ID: newFactorID(), UserID: u.ID, Lookup: lookup, Hash: phc}
	}
	ev := audit.Event{Action: "backup_codes.generated", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"count": len(codes)}}
	if err := s.Store.ReplaceBackupCodes(ctx, u.ID, rows, ev); err != nil {
		return nil, err
	}
	return codes, nil
}

// RenameFactor names one of u's factors.
func (s *Service) RenameFactor(ctx context.Context, sess *Session, u *User, id, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return ordergate.FieldError(ordergate.EINVALID, "name", "1-64 characters")
	}
	ev := audit.Event{Action: "factor.renamed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"factor_id": id, "name": name}}
	return s.Store.RenameFactor(ctx, u.ID, id, name, ev)
}

// RemoveFactorMaxAge is how fresh a second factor must be to remove one.
const RemoveFactorMaxAge = 5 * time.Minute

// RemoveFactor deletes one of u's factors after a fresh second factor.
func (s *Service) RemoveFactor(ctx context.Context, sess *Session, u *User, id string) error {
	if err := s.RequireFresh(sess.Auth, []string{MethodWebAuthn, MethodTOTP, MethodSMS, MethodBackupCode}, RemoveFactorMaxAge); err != nil {
		return err
	}
	f, err := s.Store.Factor(ctx, u.ID, id)
	if err != nil {
		return err
	}
	ev := audit.Event{Action: "factor.removed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"factor_id": f.ID, "type": f.Type, "name": f.Name}}
	if err := s.Store.DeleteFactor(ctx, u.ID, id, ev); err != nil {
		return err
	}
	return s.ForgetRememberedDevices(ctx, UserActor(u, sess), u.ID, "factor_removed")
}

// RequireFresh returns an ESTEPUP error unless ac records one of methods
// proven within maxAge.
func (s *Service) RequireFresh(ac ordergate.AuthContext, methods []string, maxAge time.Duration) error {
	now := s.Clock.Now()
	for _, m := range methods {
		for _, amr := range methodAMR[m] {
			if at, ok := ac.FactorTimes[amr]; ok && now.Sub(at) <= maxAge {
				return nil
			}
		}
	}
	return stepUpError(methods, maxAge)
}

// stepUpError is the RFC 9470 style answer asking for a fresher factor.
func stepUpError(methods []string, maxAge time.Duration) *ordergate.Error {
	req := map[string]any{"methods": methods}
	if maxAge > 0 {
		req["max_age"] = int(maxAge / time.Second)
	}
	return &ordergate.Error{Code: ordergate.ESTEPUP, Message: "a fresh second factor is required",
		Details: map[string]any{"required": req}}
}

// StepUpResult is the answer to a step-up. Token is set when the session
// was replaced because its assurance level rose.
type StepUpResult struct {
	Token   string
	Session *Session
}

// StepUp proves a second factor again on an active session, for action on
// orderID when given, and records its time in the session.
func (s *Service) StepUp(ctx context.Context, sess *Session, u *User, method, code, action, orderID string) (*StepUpResult, error) {
	if sess.State != StateActive {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first")
	}
	res, err := s.verifyFactor(ctx, u, sess, method, code, "step_up")
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	ev := audit.Event{At: now, Action: "step_up", Outcome: audit.OutcomeOK, SubjectID: u.ID, OrderID: orderID,
		Data: map[string]any{"method": method, "action": action}}
	if sess.Auth.AAL < ordergate.AAL2 {
		token, next, err := s.upgrade(ctx, u, sess, res.AMR, ev)
		if err != nil {
			return nil, err
		}
		return &StepUpResult{Token: token, Session: next}, nil
	}
	next := *sess
	next.Auth.FactorTimes = cloneTimes(sess.Auth.FactorTimes)
	next.Auth.FactorTimes[res.AMR] = now
	next.Auth.AMR = appendNew(sess.Auth.AMR, res.AMR)
	ev.Actor = UserActor(u, &next)
	if err := s.Store.UpdateSessionAuth(ctx, &next, ev); err != nil {
		return nil, err
	}
	return &StepUpResult{Session: &next}, nil
}

// MaxPostponements is how often a user may put off enrolling during a
// rollout phase's grace period.
const MaxPostponements = 3

// Postpone puts off the enrollment an enrollment-only session asks for,
// when a rollout phase's grace period allows it and the user has
// postponements left, and signs the user in at AAL1 with a new token.
func (s *Service) Postpone(ctx context.Context, sess *Session, u *User) (*LoginResult, error) {
	if sess.State != StateEnrollment {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "nothing to postpone")
	}
	factors, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	req := s.Policy.Require(u, sess.Auth.ClientIP, enrolledMethods(factors), now)
	if req.Need || !req.Grace {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "enrollment cannot be postponed: a second factor is required now")
	}
	ev := audit.Event{At: now, Action: "mfa.postponed", Outcome: audit.OutcomeOK, Actor: UserActor(u, sess), SubjectID: u.ID,
		Data: map[string]any{"deadline": req.Deadline}}
	ok, err := s.Store.PostponeEnrollment(ctx, u.ID, MaxPostponements, ev)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "enrollment was postponed %d times already; enroll now", MaxPostponements)
	}
	auth := sess.Auth
	auth.AAL = ordergate.AAL1
	token, next := s.newSession(u.ID, StateActive, auth)
	if err := s.Store.ReplaceSession(ctx, sess.ID, next); err != nil {
		return nil, err
	}
	return &LoginResult{State: LoginAuthenticated, Token: token, Session: next, User: u, Deadline: req.Deadline,
		PostponesLeft: MaxPostponements - u.Postponements - 1}, nil
}
