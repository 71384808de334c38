package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The guided enrollment wizard: choose a factor, scan the QR code and type
// a code, then save the backup codes. It serves enrollment-only sessions
// right after a login and signed-in users adding a factor.

// enrollPage returns the request's session when it may use the wizard
// (enrollment-only or active), or redirects and returns nil.
func (s *Server) enrollPage(w http.ResponseWriter, r *http.Request) *session {
	ss := sessionFrom(r)
	if ss == nil || (ss.sess.State != auth.StateEnrollment && ss.sess.State != auth.StateActive) {
		s.continueSignIn(w, r, ss)
		return nil
	}
	return ss
}

// pageFor is the page data of session ss: the header shows the user only
// once the session is fully signed in.
func pageFor(ss *session, title string) page {
	p := page{Title: title, CSRF: ss.sess.CSRFToken}
	if ss.sess.State == auth.StateActive {
		p.User, p.Sess = ss.user, ss.sess
	}
	return p
}

// enrollChoice is one factor on the wizard's first step.
type enrollChoice struct {
	Method string
	Label  string
	// Here is true when this wizard can enroll the method.
	Here bool
	// Weaker marks methods that phishing or SIM swaps can defeat.
	Weaker bool
	// Checked preselects the strongest choice this wizard can enroll.
	Checked bool
}

// enrollData is the wizard's first step.
type enrollData struct {
	Choices []enrollChoice
	// Forced is true for an enrollment-only session: nothing else works
	// until a factor is enrolled.
	Forced bool
	// Available is true when at least one choice can be enrolled here.
	Available bool
	// Vouched is true right after the pre-registered phone was confirmed.
	Vouched bool
}

func (s *Server) handleEnrollPage(w http.ResponseWriter, r *http.Request) {
	if ss := s.enrollPage(w, r); ss != nil {
		s.renderEnrollChoice(w, r, ss, http.StatusOK, "")
	}
}

func (s *Server) renderEnrollChoice(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	d := enrollData{Forced: ss.sess.State == auth.StateEnrollment, Vouched: r.URL.Query().Get("done") == "vouched"}
	for _, m := range s.Auth.EnrollMethods(ss.user) {
		c := enrollChoice{Method: m, Label: methodLabels[m], Here: s.enrollHere(m), Weaker: m == auth.MethodSMS}
		d.Available = d.Available || c.Here
		d.Choices = append(d.Choices, c)
	}
	d.preselect()
	p := pageFor(ss, "Set up a second factor")
	p.Error, p.Data = msg, d
	s.render(w, status, "enroll.html", p)
}

// preselect checks the authenticator app when it can be enrolled here
// (every user has a phone for it), else the first choice that can.
func (d *enrollData) preselect() {
	i := slices.IndexFunc(d.Choices, func(c enrollChoice) bool { return c.Here && c.Method == auth.MethodTOTP })
	if i < 0 {
		i = slices.IndexFunc(d.Choices, func(c enrollChoice) bool { return c.Here })
	}
	if i >= 0 {
		d.Choices[i].Checked = true
	}
}

// handleEnrollBegin starts enrolling the chosen factor.
func (s *Server) handleEnrollBegin(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil {
		return
	}
	method := r.PostFormValue("method")
	if s.beginOtherEnrollment(w, r, ss, method) {
		return
	}
	if method != auth.MethodTOTP {
		s.renderEnrollChoice(w, r, ss, http.StatusBadRequest, "Choose a second factor to continue.")
		return
	}
	e, err := s.Auth.BeginTOTP(r.Context(), ss.sess, ss.user)
	if err != nil {
		status, msg := s.pageError(r, err)
		if ordergate.ErrorCode(err) == ordergate.ESTEPUP {
			msg = "To add a factor, first sign out and sign in again with your current second factor."
		}
		s.renderEnrollChoice(w, r, ss, status, msg)
		return
	}
	http.Redirect(w, r, "/enroll/totp/"+url.PathEscape(e.ID), http.StatusSeeOther)
}

// enrollTOTPData is the wizard's second step.
type enrollTOTPData struct {
	ID string
	// QR is the QR code as a data: URL image.
	QR template.URL
	// URI is the otpauth:// link that mobile authenticator apps open.
	URI template.URL
	// Secret is the base32 secret, grouped in fours for typing.
	Secret string
	// RawSecret is the secret without spaces.
	RawSecret string
}

func (s *Server) handleEnrollTOTPPage(w http.ResponseWriter, r *http.Request) {
	if ss := s.enrollPage(w, r); ss != nil {
		s.renderEnrollTOTP(w, r, ss, http.StatusOK, "")
	}
}

func (s *Server) renderEnrollTOTP(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	e, err := s.Auth.PendingTOTP(r.Context(), ss.sess, ss.user, r.PathValue("id"))
	switch ordergate.ErrorCode(err) {
	case "":
	case ordergate.ECONFLICT, ordergate.ENOTFOUND:
		// Confirmed already, or not this user's: start from the beginning.
		http.Redirect(w, r, "/enroll", http.StatusSeeOther)
		return
	default:
		status, msg := s.pageError(r, err)
		s.renderEnrollChoice(w, r, ss, status, msg)
		return
	}
	d := enrollTOTPData{ID: e.ID, QR: template.URL("data:image/png;base64," + e.QRPNG), URI: template.URL(e.URI),
		Secret: groupsOf(e.Secret, 4), RawSecret: e.Secret}
	p := pageFor(ss, "Scan the QR code")
	p.Error, p.Data = msg, d
	s.render(w, status, "enroll_totp.html", p)
}

// groupsOf splits s into space-separated groups of n characters.
func groupsOf(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// handleEnrollTOTPConfirm activates the factor with a code, then shows new
// backup codes when the user has none left (always after a first factor).
func (s *Server) handleEnrollTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	ss := s.enrollPage(w, r)
	if ss == nil {
		return
	}
	res, err := s.Auth.ConfirmTOTP(r.Context(), ss.sess, ss.user, r.PathValue("id"), r.PostFormValue("code"))
	if err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		status, msg := s.pageError(r, err)
		s.renderEnrollTOTP(w, r, ss, status, msg)
		return
	}
	s.finishEnroll(w, r, ss, res)
}

// finishEnroll follows a confirmed factor: the session moves to res's new
// token when there is one, then the wizard ends with new backup codes.
func (s *Server) finishEnroll(w http.ResponseWriter, r *http.Request, ss *session, res *auth.ConfirmResult) {
	if res.Token != "" {
		s.replaceCookie(w, ss, res.Token, res.Session)
		ss = &session{sess: res.Session, user: ss.user, cookie: ss.cookie}
	}
	s.enrollBackupCodes(w, r, ss)
}

// enrollBackupCodes ends the wizard: a user with backup codes left goes
// back to the account page, one without is shown new ones.
func (s *Server) enrollBackupCodes(w http.ResponseWriter, r *http.Request, ss *session) {
	if s.backupCodesKept(w, r, ss) {
		return
	}
	s.showNewBackupCodes(w, r, ss, "enroll")
}

// backupCodesKept sends a user who has backup codes left back to the
// account page and reports whether it answered the request (on an error
// too); a user without any is left to the caller.
func (s *Server) backupCodesKept(w http.ResponseWriter, r *http.Request, ss *session) bool {
	left, err := s.Auth.Store.BackupCodesLeft(r.Context(), ss.user.ID)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return true
	}
	if left > 0 {
		http.Redirect(w, r, "/account/security?done=factor_added", http.StatusSeeOther)
		return true
	}
	return false
}

// backupCodesData is the page that shows new backup codes, once.
type backupCodesData struct {
	Codes []string
	// Download is the codes as a text file in a data: URL.
	Download template.URL
	// Next is where the confirmation leads: "enroll" or "account".
	Next string
}

// showNewBackupCodes replaces the user's backup codes and shows the new
// ones this once.
func (s *Server) showNewBackupCodes(w http.ResponseWriter, r *http.Request, ss *session, next string) {
	codes, err := s.Auth.GenerateBackupCodes(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	var text strings.Builder
	text.WriteString("ordergate backup codes for " + ss.user.Username + "\r\n")
	text.WriteString("Each code works once. Keep them somewhere safe.\r\n\r\n")
	for _, c := range codes {
		text.WriteString(c + "\r\n")
	}
	d := backupCodesData{Codes: codes, Next: next,
		Download: template.URL("data:text/plain;charset=utf-8," + url.PathEscape(text.String()))}
	p := pageFor(ss, "Save your backup codes")
	p.Data = d
	s.render(w, http.StatusOK, "backupcodes.html", p)
}

// handleEnrollDone ends the wizard once the user says the codes are saved.
func (s *Server) handleEnrollDone(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	next := "/"
	if r.PostFormValue("next") == "account" {
		next = "/account/security"
	}
	if r.PostFormValue("saved") == "" {
		p := pageFor(ss, "Backup codes not confirmed")
		p.Error = "Please confirm that you saved your backup codes."
		p.Data = messageData{Text: "If you did not save them, make new ones on your account security page: the old ones stop working.",
			Link: "/account/security", LinkText: "Account security"}
		s.render(w, http.StatusBadRequest, "message.html", p)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// messageData is a page that only says something.
type messageData struct {
	Text     string
	Link     string
	LinkText string
}

// renderMessage shows err on a page of its own.
func (s *Server) renderMessage(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	status, msg := s.pageError(r, err)
	p := page{Title: "Something went wrong", Error: msg, Data: messageData{Link: "/", LinkText: "Back to the start"}}
	if ss != nil {
		p = pageFor(ss, p.Title)
		p.Error, p.Data = msg, messageData{Link: "/", LinkText: "Back to the start"}
	}
	s.render(w, status, "message.html", p)
}
