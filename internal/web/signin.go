package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The pages of a sign-in that needs more than a password: the second-factor
// page for pending sessions, and the way every page sends a half-signed-in
// browser to the step it has to finish.

// signInNext is where the browser goes after a login step in state.
func signInNext(state string) string {
	switch state {
	case auth.LoginMFARequired:
		return "/login/second-factor"
	case auth.LoginEnrollmentRequired:
		return "/enroll"
	default:
		return "/"
	}
}

// continueSignIn redirects a browser without an active session to the
// step it has to finish: the login page, the second factor, or enrollment.
func (s *Server) continueSignIn(w http.ResponseWriter, r *http.Request, ss *session) {
	next := "/login"
	if ss != nil {
		switch ss.sess.State {
		case auth.StatePending:
			next = signInNext(auth.LoginMFARequired)
		case auth.StateEnrollment:
			next = signInNext(auth.LoginEnrollmentRequired)
		case auth.StateActive:
			next = "/"
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// activePage returns the request's active session, or redirects the
// browser to the sign-in step it has to finish and returns nil.
func (s *Server) activePage(w http.ResponseWriter, r *http.Request) *session {
	ss := sessionFrom(r)
	if ss == nil || ss.sess.State != auth.StateActive {
		s.continueSignIn(w, r, ss)
		return nil
	}
	return ss
}

// pageError turns err into a status and a message fit for a page: the
// domain's own message for its errors and for an outage (domainError),
// "something went wrong" for anything else. It never shows internal
// detail.
func (s *Server) pageError(r *http.Request, err error) (int, string) {
	e, gone := s.domainError(r, err)
	if gone {
		return statusClientClosed, ""
	}
	if e.Code == ordergate.EINTERNAL {
		return http.StatusInternalServerError, "Something went wrong on our side. Please try again."
	}
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch e.Code {
	case ordergate.ECODE:
		return status, "That code did not work. Check it and try again, or wait for the next code."
	case ordergate.ERATELIMIT:
		return status, fmt.Sprintf("Too many wrong codes. Please wait %d seconds and try again.", e.RetryAfter)
	case ordergate.EINVALID:
		for field, problem := range e.Fields {
			return status, fmt.Sprintf("The %s %s.", field, problem)
		}
	}
	return status, sentence(e.Message)
}

// sentence capitalizes msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return ""
	}
	b := []byte(msg)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	if last := b[len(b)-1]; last != '.' && last != '!' && last != '?' {
		b = append(b, '.')
	}
	return string(b)
}

// methodLabels names second-factor methods for people.
var methodLabels = map[string]string{
	auth.MethodTOTP:       "Authenticator app",
	auth.MethodWebAuthn:   "Security key or passkey",
	auth.MethodSMS:        "Text message (SMS)",
	auth.MethodBackupCode: "Backup code",
}

// secondFactorData is the second-factor page.
type secondFactorData struct {
	TOTP, BackupCode bool
	// WebAuthn offers "use my security key"; SMS offers "text me a code".
	WebAuthn, SMS bool
	// SMSSentTo is the masked number a code was just texted to: the
	// page then shows the form for it.
	SMSSentTo string
	// Other lists offered methods this page cannot take.
	Other []string
	// Method is the form that was sent, shown first after an error.
	Method string
	// RememberDays is N of "trust this browser for N days", offered on
	// the code forms when it is not zero; Remember keeps the box ticked
	// after a wrong code.
	RememberDays int
	Remember     bool
}

// rememberDays is how many days policy lets u's browser stand in for the
// second factor (the check POST /api/v1/me/devices/current/remember
// makes), or zero when it does not or the browser has no device cookie.
func (s *Server) rememberDays(r *http.Request, u *auth.User) int {
	if s.deviceID(r) == "" {
		return 0
	}
	return int(s.Auth.RememberDeviceFor(u) / (24 * time.Hour))
}

// rememberBrowser does what POST /api/v1/me/devices/current/remember does,
// for the session a second factor has just made, and renews the device
// cookie. A refusal is logged: the sign-in itself stands.
func (s *Server) rememberBrowser(w http.ResponseWriter, r *http.Request, res *auth.LoginResult) {
	id := s.deviceID(r)
	if _, err := s.Auth.RememberDevice(r.Context(), res.Session, res.User, id); err != nil {
		s.Log.Warn("remember browser", "event", "device.remember_failed", "user_id", res.User.ID, "err", err)
		return
	}
	s.writeDeviceCookie(w, id)
}

// handleSecondFactorPage shows the forms a pending session can finish with.
func (s *Server) handleSecondFactorPage(w http.ResponseWriter, r *http.Request) {
	ss := sessionFrom(r)
	if ss == nil || ss.sess.State != auth.StatePending {
		s.continueSignIn(w, r, ss)
		return
	}
	s.renderSecondFactor(w, r, ss, http.StatusOK, "", "")
}

func (s *Server) renderSecondFactor(w http.ResponseWriter, r *http.Request, ss *session, status int, method, msg string) {
	s.renderSecondFactorSent(w, r, ss, status, method, "", msg)
}

// renderSecondFactorSent is renderSecondFactor after a code was texted to
// the masked number sentTo.
func (s *Server) renderSecondFactorSent(w http.ResponseWriter, r *http.Request, ss *session, status int, method, sentTo, msg string) {
	methods, err := s.Auth.LoginMethods(r.Context(), ss.user)
	if err != nil {
		status, msg = s.pageError(r, err)
	}
	d := secondFactorData{Method: method, SMSSentTo: sentTo, RememberDays: s.rememberDays(r, ss.user),
		Remember: r.PostFormValue("remember_device") == "yes"}
	for _, m := range methods {
		switch {
		case m == auth.MethodTOTP:
			d.TOTP = true
		case m == auth.MethodBackupCode:
			d.BackupCode = true
		case m == auth.MethodWebAuthn && s.Auth.WebAuthn != nil:
			d.WebAuthn = true
		case m == auth.MethodSMS && s.Auth.SMSEnabled():
			d.SMS = true
		default:
			d.Other = append(d.Other, methodLabels[m])
		}
	}
	if d.Method == "" && !d.TOTP && !d.WebAuthn && !d.SMS && d.BackupCode {
		d.Method = auth.MethodBackupCode
	}
	s.render(w, status, "secondfactor.html", page{Title: "Second factor", CSRF: ss.sess.CSRFToken, Error: msg, Data: d})
}

// handleSecondFactorForm finishes a pending login with a TOTP or backup
// code and moves the cookie to the new session.
func (s *Server) handleSecondFactorForm(w http.ResponseWriter, r *http.Request) {
	ss := sessionFrom(r)
	if ss == nil || ss.sess.State != auth.StatePending {
		s.continueSignIn(w, r, ss)
		return
	}
	method := r.PostFormValue("method")
	if !slices.Contains([]string{auth.MethodTOTP, auth.MethodSMS, auth.MethodBackupCode}, method) {
		s.renderSecondFactor(w, r, ss, http.StatusBadRequest, "", "Choose a way to confirm it is you.")
		return
	}
	start := time.Now()
	res, err := s.Auth.CompleteLogin(r.Context(), ss.sess, ss.user, method, r.PostFormValue("code"))
	outcome := "ok"
	if err != nil {
		outcome = ordergate.ErrorCode(err)
	}
	s.Metrics.LoginStep.WithLabelValues("second_factor", outcome).Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, auth.ErrNoSession) {
			s.continueSignIn(w, r, nil)
			return
		}
		status, msg := s.pageError(r, err)
		s.renderSecondFactor(w, r, ss, status, method, msg)
		return
	}
	s.Metrics.Logins.WithLabelValues("authenticated").Inc()
	s.replaceCookie(w, ss, res.Token, res.Session)
	if r.PostFormValue("remember_device") == "yes" {
		s.rememberBrowser(w, r, res)
	}
	if res.BackupCodesLeft != nil {
		// A backup code usually means a lost device: offer to secure
		// the account before anything else.
		http.Redirect(w, r, "/account/secure", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// homeData is what the home page adds for second factors.
type homeData struct {
	// EnrollBy is the deadline of a rollout the user has yet to meet.
	EnrollBy time.Time
	// BackupCodeUsed is true when this session signed in with a backup
	// code; BackupCodesLeft then says how many remain.
	BackupCodeUsed  bool
	BackupCodesLeft int
	// Admin is true for users who may see the adoption page.
	Admin bool
}

// homeData returns the home page's reminders. A failure to read them is
// logged and leaves them out: the page itself still works.
func (s *Server) homeData(r *http.Request, ss *session) homeData {
	d := homeData{Admin: slices.ContainsFunc(ss.user.Roles, func(role string) bool { return slices.Contains(readerRoles, role) })}
	by, err := s.Auth.EnrollmentDeadline(r.Context(), ss.user, ss.sess.Auth.ClientIP)
	if err != nil {
		s.Log.Error("home: enrollment deadline", "user_id", ss.user.ID, "err", err)
	}
	d.EnrollBy = by
	if slices.Contains(ss.sess.Auth.AMR, ordergate.AMRBackup) {
		left, err := s.Auth.Store.BackupCodesLeft(r.Context(), ss.user.ID)
		if err != nil {
			s.Log.Error("home: backup codes left", "user_id", ss.user.ID, "err", err)
		}
		d.BackupCodeUsed, d.BackupCodesLeft = err == nil, left
	}
	return d
}
