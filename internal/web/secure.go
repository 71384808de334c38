package web

import (
	"net/http"
	"slices"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The sign-in pages' text-message path ("text me a code") and the
// "secure your account" page a backup-code sign-in leads to: enroll a
// new factor, see the codes left, remove the lost factor.

// handleSecondFactorSMSSend texts a sign-in code to the user's SMS factor
// and shows the form for it. A provider outage says so and points to the
// other methods; nothing is consumed.
func (s *Server) handleSecondFactorSMSSend(w http.ResponseWriter, r *http.Request) {
	ss := sessionFrom(r)
	if ss == nil || ss.sess.State != auth.StatePending {
		s.continueSignIn(w, r, ss)
		return
	}
	phone, err := s.Auth.SendLoginSMS(r.Context(), ss.sess, ss.user)
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderSecondFactor(w, r, ss, status, auth.MethodSMS, msg)
		return
	}
	s.renderSecondFactorSent(w, r, ss, http.StatusOK, auth.MethodSMS, phone, "")
}

// secureData is the "secure your account" page.
type secureData struct {
	Factors         []accountFactor
	BackupCodesLeft int
	// SignedInWithBackupCode is true when this session used a backup code.
	SignedInWithBackupCode bool
	// CanAdd is true when the user may enroll a factor here.
	CanAdd bool
}

// handleSecurePage shows what to do after signing in without one's usual
// factor: add a new factor, remove the lost one, look at the codes left.
func (s *Server) handleSecurePage(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	ctx := r.Context()
	factors, left, err := s.accountFactors(ctx, ss.user.ID, true)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	d := secureData{Factors: factors, BackupCodesLeft: left, SignedInWithBackupCode: slices.Contains(ss.sess.Auth.AMR, ordergate.AMRBackup),
		CanAdd: slices.ContainsFunc(s.Auth.EnrollMethods(ss.user), s.enrollHere)}
	p := pageFor(ss, "Secure your account")
	p.Data = d
	s.render(w, http.StatusOK, "secure.html", p)
}

// loginPageData is what the login page adds to the password form.
type loginPageData struct {
	// Passkey offers "sign in with a passkey": some role may sign in
	// with a passkey alone.
	Passkey bool
}

func (s *Server) loginData() loginPageData {
	return loginPageData{Passkey: s.Auth.WebAuthn != nil && len(s.Auth.WebAuthn.PasswordlessRoles) > 0}
}
