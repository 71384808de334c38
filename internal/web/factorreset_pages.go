package web

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The pages of admin-assisted recovery with four eyes: an administrator
// asks to reset a user's factors (with a reason), another approves with a
// fresh second factor and hands the user the one-time link it shows, and
// the user opens the link, types the password and sets up again.

// factorResetRow is one request on the admin page.
type factorResetRow struct {
	ID          string
	Username    string
	RequestedBy string
	Reason      string
	// Status is pending, approved or expired.
	Status    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Approvable is true when this administrator may approve it.
	Approvable bool
}

// factorResetsData is the admin page: the request form and the list.
type factorResetsData struct {
	Resets []factorResetRow
	// Username and Reason refill the request form after an error.
	Username, Reason string
	Notice           string
}

func (s *Server) handleFactorResetsPage(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	notice := ""
	if r.URL.Query().Get("done") == "requested" {
		notice = "Reset requested. Another administrator must approve it within 24 hours."
	}
	s.renderFactorResets(w, r, ss, http.StatusOK, factorResetsData{Notice: notice}, "")
}

func (s *Server) renderFactorResets(w http.ResponseWriter, r *http.Request, ss *session, status int, d factorResetsData, msg string) {
	ctx := r.Context()
	list, err := s.Auth.FactorResets(ctx, ss.sess, ss.user)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	names := map[string]string{}
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := id
		if u, err := s.Auth.Store.UserByID(ctx, id); err == nil {
			n = u.Username
		} else if ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			s.Log.Error("factor resets: user name", "user_id", ss.user.ID, "err", err)
		}
		names[id] = n
		return n
	}
	now := s.Clock.Now()
	for _, fr := range list {
		st := fr.Status
		if st == auth.ResetPending && !now.Before(fr.ExpiresAt) {
			st = "expired"
		}
		d.Resets = append(d.Resets, factorResetRow{ID: fr.ID, Username: name(fr.UserID), RequestedBy: name(fr.RequestedBy),
			Reason: fr.Reason, Status: st, CreatedAt: fr.CreatedAt, ExpiresAt: fr.ExpiresAt,
			Approvable: st == auth.ResetPending && fr.RequestedBy != ss.user.ID && fr.UserID != ss.user.ID})
	}
	p := pageFor(ss, "Factor resets")
	p.Error, p.Data = msg, d
	s.render(w, status, "factor_resets.html", p)
}

// handleFactorResetRequestForm records a reset request for the named user.
func (s *Server) handleFactorResetRequestForm(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	ctx := r.Context()
	d := factorResetsData{Username: strings.TrimSpace(r.PostFormValue("username")), Reason: r.PostFormValue("reason")}
	target, err := s.Auth.Store.UserByUsername(ctx, strings.ToLower(d.Username))
	if err == nil {
		_, err = s.Auth.RequestFactorReset(ctx, ss.sess, ss.user, target.ID, d.Reason)
	} else if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
		err = ordergate.FieldError(ordergate.EINVALID, "username", "is not a user of ordergate")
	}
	if err != nil {
		status, msg := s.pageError(r, err)
		if ordergate.ErrorCode(err) == ordergate.EFORBIDDEN && !ss.user.HasRole(auth.RoleAdmin) {
			s.renderMessage(w, r, ss, err)
			return
		}
		s.renderFactorResets(w, r, ss, status, d, msg)
		return
	}
	http.Redirect(w, r, "/admin/factor-resets?done=requested", http.StatusSeeOther)
}

// factorResetStepUpData is the prompt for a fresh second factor before
// an approval.
type factorResetStepUpData struct {
	ID       string
	TOTP     bool
	WebAuthn bool
}

// factorResetLinkData is the approved reset's one-time link, shown once.
type factorResetLinkData struct {
	Username  string
	URL       string
	ExpiresAt time.Time
}

// handleFactorResetApproveForm approves a request. The approver needs a
// second factor proven in the last five minutes: without one it shows a
// prompt whose answer (a TOTP code here, or a security key through
// static/factors.js) comes back to this handler.
func (s *Server) handleFactorResetApproveForm(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	ctx, sess := r.Context(), ss.sess
	if method := r.PostFormValue("method"); method != "" {
		if method != auth.MethodTOTP {
			s.renderResetStepUp(w, r, ss, http.StatusBadRequest, "Confirm with your authenticator app or security key.")
			return
		}
		res, err := s.Auth.StepUp(ctx, ss.sess, ss.user, method, r.PostFormValue("code"), "factor_reset.approve", "")
		if err != nil {
			status, msg := s.pageError(r, err)
			s.renderResetStepUp(w, r, ss, status, msg)
			return
		}
		if res.Token != "" {
			s.replaceCookie(w, ss, res.Token, res.Session)
		}
		sess = res.Session
		ss = &session{sess: sess, user: ss.user, cookie: ss.cookie}
	}
	res, err := s.Auth.ApproveFactorReset(ctx, sess, ss.user, r.PathValue("id"))
	if err != nil {
		if ordergate.ErrorCode(err) == ordergate.ESTEPUP {
			s.renderResetStepUp(w, r, ss, http.StatusOK, "")
			return
		}
		status, msg := s.pageError(r, err)
		s.renderFactorResets(w, r, ss, status, factorResetsData{}, msg)
		return
	}
	s.Auth.DispatchSoon()
	d := factorResetLinkData{Username: res.Reset.UserID, URL: res.URL, ExpiresAt: res.ExpiresAt}
	if u, err := s.Auth.Store.UserByID(ctx, res.Reset.UserID); err == nil {
		d.Username = u.Username
	}
	p := pageFor(ss, "Reset approved")
	p.Data = d
	s.render(w, http.StatusOK, "factor_reset_link.html", p)
}

func (s *Server) renderResetStepUp(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	methods, err := s.Auth.LoginMethods(r.Context(), ss.user)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	d := factorResetStepUpData{ID: r.PathValue("id"), TOTP: slices.Contains(methods, auth.MethodTOTP),
		WebAuthn: s.Auth.WebAuthn != nil && slices.Contains(methods, auth.MethodWebAuthn)}
	p := pageFor(ss, "Confirm it is you")
	p.Error, p.Data = msg, d
	s.render(w, status, "factor_reset_stepup.html", p)
}

// recoveryCSRFCookie is the double-submit token of the recovery link's
// form, which is sent before any session exists.
const recoveryCSRFCookie = "ordergate_recovery_csrf"

// recoveryPath is the path of the recovery pages, where the cookie goes.
const recoveryPath = "/recovery/"

func (s *Server) handleRecoveryPage(w http.ResponseWriter, r *http.Request) {
	s.renderRecovery(w, r, http.StatusOK, "")
}

// renderRecovery shows the recovery link's password form. It says nothing
// about the link itself: whether it is valid shows only with the right
// password, so the page cannot be used to test stolen links.
func (s *Server) renderRecovery(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := ""
	if ss := sessionFrom(r); ss != nil {
		// The CSRF middleware checks the session's token on the post.
		token = ss.sess.CSRFToken
	} else {
		token = rand.Text()
		http.SetCookie(w, &http.Cookie{Name: recoveryCSRFCookie, Value: token, Path: recoveryPath, HttpOnly: true,
			Secure: s.Secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	}
	s.render(w, status, "recovery.html", page{Title: "Set up your account again", CSRF: token, Error: msg})
}

// handleRecoveryForm spends the link with the user's password and starts
// the enrollment wizard in an enrollment-only session.
func (s *Server) handleRecoveryForm(w http.ResponseWriter, r *http.Request) {
	if sessionFrom(r) == nil {
		c, err := r.Cookie(recoveryCSRFCookie)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf_token"))) != 1 {
			s.renderRecovery(w, r, http.StatusForbidden, "Your form expired. Please try again.")
			return
		}
	}
	res, err := s.Auth.AcceptRecovery(r.Context(), r.PathValue("token"), r.PostFormValue("password"), s.client(r))
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderRecovery(w, r, status, msg)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: recoveryCSRFCookie, Path: recoveryPath, MaxAge: -1, HttpOnly: true,
		Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	http.Redirect(w, r, signInNext(res.State), http.StatusSeeOther)
}
