package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The wizard's other factors: a security key or passkey, registered by
// static/webauthn.js on the page; text-message codes, phone number first
// and then the texted code, with the notice that SMS is weaker; and the
// check of a pre-registered phone that comes before a user's very first
// factor (vouching), so that a stolen password alone cannot enroll one.

// enrollHere reports whether the wizard can enroll method on this server.
func (s *Server) enrollHere(method string) bool {
	switch method {
	case auth.MethodTOTP:
		return true
	case auth.MethodWebAuthn:
		return s.Auth.WebAuthn != nil
	case auth.MethodSMS:
		return s.Auth.SMSEnabled()
	}
	return false
}

// beginOtherEnrollment handles the wizard's first step for everything but
// a TOTP factor that may start at once: it leads to the phone check when
// one is needed, to the key page or to the phone form. It returns false
// when the TOTP flow should go on.
func (s *Server) beginOtherEnrollment(w http.ResponseWriter, r *http.Request, ss *session, method string) bool {
	switch method {
	case auth.MethodTOTP, auth.MethodWebAuthn:
		if !s.enrollHere(method) {
			return false
		}
		phone, err := s.Auth.VouchPhone(r.Context(), ss.sess, ss.user)
		if err != nil {
			status, msg := s.pageError(r, err)
			s.renderEnrollChoice(w, r, ss, status, msg)
			return true
		}
		if phone != "" {
			http.Redirect(w, r, "/enroll/vouch?method="+url.QueryEscape(method), http.StatusSeeOther)
			return true
		}
		if method == auth.MethodWebAuthn {
			http.Redirect(w, r, "/enroll/key", http.StatusSeeOther)
			return true
		}
	case auth.MethodSMS:
		if s.enrollHere(method) {
			http.Redirect(w, r, "/enroll/sms", http.StatusSeeOther)
			return true
		}
	}
	return false
}

// mayEnroll reports whether u's policy lets the wizard enroll method here;
// when not, it shows the first step with a message and returns false.
func (s *Server) mayEnroll(w http.ResponseWriter, r *http.Request, ss *session, method string) bool {
	if s.enrollHere(method) && slices.Contains(s.Auth.EnrollMethods(ss.user), method) {
		return true
	}
	s.renderEnrollChoice(w, r, ss, http.StatusForbidden, "That kind of second factor is not available for your account. Choose another one.")
	return false
}

// enrollKeyData is the security key step.
type enrollKeyData struct {
	// Forced is true for an enrollment-only session.
	Forced bool
}

// handleEnrollKeyPage shows the page whose button registers a security
// key or passkey in the browser (static/factors.js calls register()).
func (s *Server) handleEnrollKeyPage(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil || !s.mayEnroll(w, r, ss, auth.MethodWebAuthn) {
		return
	}
	phone, err := s.Auth.VouchPhone(r.Context(), ss.sess, ss.user)
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderEnrollChoice(w, r, ss, status, msg)
		return
	}
	if phone != "" {
		http.Redirect(w, r, "/enroll/vouch?method="+auth.MethodWebAuthn, http.StatusSeeOther)
		return
	}
	p := pageFor(ss, "Add a security key")
	p.Data = enrollKeyData{Forced: ss.sess.State == auth.StateEnrollment}
	s.render(w, http.StatusOK, "enroll_key.html", p)
}

// handleEnrollKeyDone follows a successful registration in the browser:
// the session is active now, and a user without backup codes is asked to
// make them (the wizard's last step); others go back to their account.
func (s *Server) handleEnrollKeyDone(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	if s.backupCodesKept(w, r, ss) {
		return
	}
	p := pageFor(ss, "Your security key is ready")
	s.render(w, http.StatusOK, "enroll_key_done.html", p)
}

// handleEnrollBackupCodes makes the first backup codes at the end of the
// wizard; a user who has some left keeps them and goes to the account
// page, where new ones can be made deliberately.
func (s *Server) handleEnrollBackupCodes(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	s.enrollBackupCodes(w, r, ss)
}

// enrollSMSData is the phone number step and the code step of SMS.
type enrollSMSData struct {
	// Phone is the number typed so far (the form) or the masked number
	// the code went to (the code step).
	Phone string
	// ID is the unconfirmed factor, on the code step.
	ID string
	// Notice says that SMS is weaker; Alternatives are stronger factors
	// the user may enroll instead.
	Notice       string
	Alternatives []enrollChoice
	// CSRF is the session's token, for the alternatives' forms.
	CSRF string
}

// smsData fills in the notice and the stronger alternatives for ss.
func (s *Server) smsData(ss *session) enrollSMSData {
	d := enrollSMSData{Notice: auth.SMSNotice, CSRF: ss.sess.CSRFToken}
	for _, m := range s.Auth.EnrollMethods(ss.user) {
		if m != auth.MethodSMS && s.enrollHere(m) {
			d.Alternatives = append(d.Alternatives, enrollChoice{Method: m, Label: methodLabels[m], Here: true})
		}
	}
	return d
}

func (s *Server) handleEnrollSMSPage(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil || !s.mayEnroll(w, r, ss, auth.MethodSMS) {
		return
	}
	d := s.smsData(ss)
	d.Phone = ss.user.Phone
	s.renderEnrollSMS(w, ss, http.StatusOK, d, "")
}

func (s *Server) renderEnrollSMS(w http.ResponseWriter, ss *session, status int, d enrollSMSData, msg string) {
	p := pageFor(ss, "Text-message codes")
	p.Error, p.Data = msg, d
	s.render(w, status, "enroll_sms.html", p)
}

// handleEnrollSMSBegin creates the SMS factor for the typed number and
// texts it a code. A number other than the pre-registered one must wait
// for the phone check; a provider outage says to try another method.
func (s *Server) handleEnrollSMSBegin(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil || !s.mayEnroll(w, r, ss, auth.MethodSMS) {
		return
	}
	phone := r.PostFormValue("phone")
	e, err := s.Auth.BeginSMS(r.Context(), ss.sess, ss.user, phone)
	if err != nil {
		if isVouch(err) {
			http.Redirect(w, r, "/enroll/vouch?method="+auth.MethodSMS, http.StatusSeeOther)
			return
		}
		status, msg := s.pageError(r, err)
		if ordergate.ErrorCode(err) == ordergate.ESTEPUP {
			msg = "To change your number, first sign out and sign in again with your current second factor."
		}
		d := s.smsData(ss)
		d.Phone = phone
		s.renderEnrollSMS(w, ss, status, d, msg)
		return
	}
	http.Redirect(w, r, "/enroll/sms/"+url.PathEscape(e.ID), http.StatusSeeOther)
}

func (s *Server) handleEnrollSMSCodePage(w http.ResponseWriter, r *http.Request) {
	if ss := s.enrollPage(w, r); ss != nil {
		s.renderEnrollSMSCode(w, r, ss, http.StatusOK, "")
	}
}

func (s *Server) renderEnrollSMSCode(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	f, err := s.Auth.Store.Factor(r.Context(), ss.user.ID, r.PathValue("id"))
	if err != nil || f.Type != auth.MethodSMS || f.Confirmed {
		if err != nil && ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			s.renderMessage(w, r, ss, err)
			return
		}
		http.Redirect(w, r, "/enroll/sms", http.StatusSeeOther)
		return
	}
	d := s.smsData(ss)
	d.ID, d.Phone = f.ID, f.Name
	p := pageFor(ss, "Type the texted code")
	p.Error, p.Data = msg, d
	s.render(w, status, "enroll_sms_code.html", p)
}

// handleEnrollSMSConfirm activates the SMS factor with the texted code,
// then shows the first backup codes like the TOTP step does.
func (s *Server) handleEnrollSMSConfirm(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil {
		return
	}
	res, err := s.Auth.ConfirmSMS(r.Context(), ss.sess, ss.user, r.PathValue("id"), r.PostFormValue("code"))
	if err != nil {
		switch ordergate.ErrorCode(err) {
		case ordergate.ECONFLICT:
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		case ordergate.ENOTFOUND:
			http.Redirect(w, r, "/enroll/sms", http.StatusSeeOther)
			return
		}
		status, msg := s.pageError(r, err)
		s.renderEnrollSMSCode(w, r, ss, status, msg)
		return
	}
	s.Auth.DispatchSoon()
	s.finishEnroll(w, r, ss, res)
}

// isVouch reports whether err asks for the pre-registered phone's check.
func isVouch(err error) bool {
	e, ok := err.(*ordergate.Error)
	return ok && e.Details != nil && e.Details["vouch"] != nil
}

// enrollVouchData is the phone check before a first factor.
type enrollVouchData struct {
	// Phone is the masked pre-registered number.
	Phone string
	// Method is the factor chosen on the first step, to go on with.
	Method string
	// Sent is true once a code was texted: the code form shows.
	Sent bool
}

func (s *Server) handleEnrollVouchPage(w http.ResponseWriter, r *http.Request) {
	if ss := s.enrollPage(w, r); ss != nil {
		s.renderVouch(w, r, ss, http.StatusOK, false, "")
	}
}

func (s *Server) renderVouch(w http.ResponseWriter, r *http.Request, ss *session, status int, sent bool, msg string) {
	phone, err := s.Auth.VouchPhone(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	method := r.FormValue("method")
	if phone == "" {
		s.vouched(w, r, method)
		return
	}
	if !slices.Contains([]string{auth.MethodTOTP, auth.MethodWebAuthn, auth.MethodSMS}, method) {
		method = ""
	}
	p := pageFor(ss, "Confirm your phone")
	p.Error, p.Data = msg, enrollVouchData{Phone: phone, Method: method, Sent: sent}
	s.render(w, status, "enroll_vouch.html", p)
}

// vouched goes on with the chosen factor once the phone is confirmed.
func (s *Server) vouched(w http.ResponseWriter, r *http.Request, method string) {
	next := "/enroll?done=vouched"
	switch method {
	case auth.MethodWebAuthn:
		next = "/enroll/key"
	case auth.MethodSMS:
		next = "/enroll/sms"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// handleEnrollVouchSend texts a code to the pre-registered phone.
func (s *Server) handleEnrollVouchSend(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil {
		return
	}
	if _, err := s.Auth.SendVouchSMS(r.Context(), ss.sess, ss.user); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			s.vouched(w, r, r.PostFormValue("method"))
			return
		}
		status, msg := s.pageError(r, err)
		s.renderVouch(w, r, ss, status, false, msg)
		return
	}
	s.renderVouch(w, r, ss, http.StatusOK, true, "")
}

// handleEnrollVouch checks the texted code and goes on with enrollment.
func (s *Server) handleEnrollVouch(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil {
		return
	}
	if _, err := s.Auth.VouchSMS(r.Context(), ss.sess, ss.user, r.PostFormValue("code")); err != nil {
		status, msg := s.pageError(r, err)
		s.renderVouch(w, r, ss, status, true, msg)
		return
	}
	s.vouched(w, r, r.PostFormValue("method"))
}
