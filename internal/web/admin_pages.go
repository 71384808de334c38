package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

// The administration console's server-rendered pages. Every form posts
// to a page route with the session's CSRF token (the JSON API refuses
// forms); the same auth service methods do the work, so pages and API
// check and audit alike.

// consoleNotice is the data of admin_notice.html: a result, a one-time
// link shown once, or why something cannot be done.
type consoleNotice struct {
	Text string
	// Link is shown as text to copy (a one-time link); Back is where to go on.
	Link     string
	Back     string
	BackText string
}

// consoleSession returns the session of an administrator (write) or of an
// administrator or auditor (read) at AAL2, or answers with a redirect to
// sign in or a page saying what is missing.
func (s *Server) consoleSession(w http.ResponseWriter, r *http.Request, write bool) (*session, bool) {
	ss := sessionFrom(r)
	if ss == nil || ss.sess.State != auth.StateActive {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil, false
	}
	roles := readerRoles
	if write {
		roles = adminRoles
	}
	p := page{Title: "Administration", User: ss.user, Sess: ss.sess, CSRF: ss.sess.CSRFToken}
	if !slices.ContainsFunc(ss.user.Roles, func(role string) bool { return slices.Contains(roles, role) }) {
		s.auditAdminDenied(r, ss)
		p.Error = "This page is for administrators."
		p.Data = consoleNotice{Back: "/", BackText: "Back to the start page"}
		s.render(w, http.StatusForbidden, "admin_notice.html", p)
		return nil, false
	}
	if ss.sess.Auth.AAL < ordergate.AAL2 {
		p.Error = "Administration needs a second factor. Sign out and sign in again with your authenticator."
		p.Data = consoleNotice{Back: "/account/security", BackText: "Set up a second factor"}
		s.render(w, http.StatusUnauthorized, "admin_notice.html", p)
		return nil, false
	}
	if write && r.Method == http.MethodPost && r.PostFormValue(stepUpCodeField) != "" {
		return s.consoleStepUp(w, r, ss)
	}
	return ss, true
}

// consolePage renders an administration page.
func (s *Server) consolePage(w http.ResponseWriter, status int, name, title string, ss *session, data any, msg string) {
	s.render(w, status, name, page{Title: title, User: ss.user, Sess: ss.sess, CSRF: ss.sess.CSRFToken, Data: data, Error: msg})
}

// consoleError shows err on the notice page, with a way back.
func (s *Server) consoleError(w http.ResponseWriter, r *http.Request, ss *session, err error, back string) {
	code := ordergate.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		s.Log.Error("administration page", "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
	}
	msg := ordergate.ErrorMessage(err)
	if code == ordergate.ESTEPUP {
		if r.Method == http.MethodPost {
			s.consoleStepUpPrompt(w, r, ss, "")
			return
		}
		msg = "This needs a fresh second factor: confirm a code from your authenticator, then try again."
	}
	var e *ordergate.Error
	if ok := asError(err, &e); ok && len(e.Fields) > 0 {
		for f, why := range e.Fields {
			msg += " (" + f + ": " + why + ")"
		}
	}
	s.consolePage(w, status, "admin_notice.html", "Administration", ss, consoleNotice{Back: back, BackText: "Back"}, msg)
}

func asError(err error, target **ordergate.Error) bool {
	e, ok := err.(*ordergate.Error)
	if ok {
		*target = e
	}
	return ok
}

func (s *Server) handleConsoleDashboard(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, false)
	if !ok {
		return
	}
	d, err := s.dashboard(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.consoleError(w, r, ss, err, "/")
		return
	}
	s.consolePage(w, http.StatusOK, "admin_dashboard.html", "Administration", ss, d, "")
}

// consoleUsersData is admin_users.html's data.
type consoleUsersData struct {
	Users     []userRowJSON
	Query     url.Values
	NextQuery string
	Roles     []string
	CanChange bool
	Requests  []roleRequestJSON
}

func (s *Server) handleConsoleUsers(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, false)
	if !ok {
		return
	}
	q, err := userQuery(r)
	actor := auth.UserActor(ss.user, ss.sess)
	var rows []auth.UserEntry
	next := ""
	if err == nil {
		rows, next, err = s.Auth.FindUsers(r.Context(), actor, q)
	}
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/users")
		return
	}
	d := consoleUsersData{Query: r.URL.Query(), Roles: s.Auth.Roles, CanChange: ss.user.HasRole(auth.RoleAdmin)}
	for _, e := range rows {
		d.Users = append(d.Users, userRow(e))
	}
	if next != "" {
		nq := r.URL.Query()
		nq.Set("cursor", next)
		d.NextQuery = nq.Encode()
	}
	reqs, err := s.Auth.RoleRequests(r.Context(), actor, auth.RoleRequestPending)
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin")
		return
	}
	for _, rr := range reqs {
		d.Requests = append(d.Requests, roleRequestOut(rr))
	}
	s.consolePage(w, http.StatusOK, "admin_users.html", "Users", ss, d, "")
}

// consoleUserData is admin_user.html's data.
type consoleUserData struct {
	User      userDetailJSON
	Roles     []string
	HasRole   map[string]bool
	Groups    string
	CanChange bool
	Self      bool
}

func (s *Server) handleConsoleUser(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, false)
	if !ok {
		return
	}
	d, err := s.Auth.UserDetail(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/users")
		return
	}
	data := consoleUserData{User: userDetailOut(d, s.Clock.Now()), Roles: s.Auth.Roles, HasRole: map[string]bool{},
		Groups: strings.Join(d.User.Groups, ", "), CanChange: ss.user.HasRole(auth.RoleAdmin), Self: d.User.ID == ss.user.ID}
	for _, role := range d.User.Roles {
		data.HasRole[role] = true
	}
	s.consolePage(w, http.StatusOK, "admin_user.html", d.User.Username, ss, data, "")
}

// consoleAction runs a change from a form and shows the user page again,
// or the error.
func (s *Server) consoleAction(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, actor ordergate.Actor, id string) error) {
	ss, ok := s.consoleSession(w, r, true)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if err := do(r.Context(), auth.UserActor(ss.user, ss.sess), id); err != nil {
		s.consoleError(w, r, ss, err, "/admin/users/"+url.PathEscape(id))
		return
	}
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(id), http.StatusSeeOther)
}

func (s *Server) handleConsoleDisable(w http.ResponseWriter, r *http.Request) {
	s.consoleAction(w, r, func(ctx context.Context, a ordergate.Actor, id string) error {
		return s.Auth.SetDisabled(ctx, a, id, true)
	})
}

func (s *Server) handleConsoleEnable(w http.ResponseWriter, r *http.Request) {
	s.consoleAction(w, r, func(ctx context.Context, a ordergate.Actor, id string) error {
		return s.Auth.SetDisabled(ctx, a, id, false)
	})
}

func (s *Server) handleConsoleRevoke(w http.ResponseWriter, r *http.Request) {
	s.consoleAction(w, r, s.Auth.RevokeSessions)
}

func (s *Server) handleConsoleRoles(w http.ResponseWriter, r *http.Request) {
	s.consoleAction(w, r, func(ctx context.Context, a ordergate.Actor, id string) error {
		groups := []string{} // the form always holds every group: empty clears them
		for _, g := range strings.Split(r.PostFormValue("groups"), ",") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
		_, err := s.Auth.ChangeMemberships(ctx, a, id, r.PostForm["roles"], groups)
		return err
	})
}

func (s *Server) handleConsoleApprove(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, true)
	if !ok {
		return
	}
	rr, err := s.Auth.ApproveRoleRequest(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/users")
		return
	}
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(rr.UserID), http.StatusSeeOther)
}

func (s *Server) handleConsoleInvite(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, true)
	if !ok {
		return
	}
	il, err := s.Auth.Invite(r.Context(), auth.UserActor(ss.user, ss.sess), auth.Invitation{Username: r.PostFormValue("username"),
		Roles: r.PostForm["roles"], Email: r.PostFormValue("email"), Phone: r.PostFormValue("phone")})
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/users")
		return
	}
	link := s.linkURL(r, "/invitations/", il.Token)
	text := "Invitation for " + il.User.Username + " created. Give them this link; it works once, until " +
		il.Link.ExpiresAt.Format("2006-01-02 15:04 MST") + ", and is not shown again."
	switch s.sendInvitation(r, auth.UserActor(ss.user, ss.sess), il, link) {
	case auth.DeliveredSMS:
		text += " It was also sent by text message to the user's phone."
	case auth.DeliveredOutbox:
		text += " It was also sent to the notification outbox."
	}
	if il.RoleRequest != nil {
		text += " The privileged roles wait for a second administrator's approval."
	}
	s.consolePage(w, http.StatusCreated, "admin_notice.html", "Invitation", ss,
		consoleNotice{Text: text, Link: link, Back: "/admin/users/" + il.User.ID, BackText: "Open the user"}, "")
}

func (s *Server) handleConsolePasswordReset(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, true)
	if !ok {
		return
	}
	il, err := s.Auth.IssuePasswordReset(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/users/"+url.PathEscape(r.PathValue("id")))
		return
	}
	s.consolePage(w, http.StatusCreated, "admin_notice.html", "Password reset", ss,
		consoleNotice{Text: "Password-reset link for " + il.User.Username + ". It works once, until " +
			il.Link.ExpiresAt.Format("2006-01-02 15:04 MST") + ", and is not shown again.",
			Link: s.linkURL(r, "/password-resets/", il.Token), Back: "/admin/users/" + il.User.ID, BackText: "Back to the user"}, "")
}

// consoleAuditData is admin_audit.html's data.
type consoleAuditData struct {
	Events    []audit.Event
	Query     url.Values
	NextQuery string
	Export    string
	Verify    *audit.Result
}

func (s *Server) handleConsoleAudit(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, false)
	if !ok {
		return
	}
	s.renderConsoleAudit(w, r, ss, nil)
}

func (s *Server) renderConsoleAudit(w http.ResponseWriter, r *http.Request, ss *session, verify *audit.Result) {
	f, err := s.auditFilter(r.Context(), r)
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/audit")
		return
	}
	f.Limit = 50
	evs, next, err := s.auditPage(r.Context(), auth.UserActor(ss.user, ss.sess), f)
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin")
		return
	}
	d := consoleAuditData{Events: evs, Query: r.URL.Query(), Verify: verify}
	eq := r.URL.Query()
	eq.Del("cursor")
	d.Export = eq.Encode()
	if next != "" {
		nq := r.URL.Query()
		nq.Set("cursor", next)
		d.NextQuery = nq.Encode()
	}
	s.consolePage(w, http.StatusOK, "admin_audit.html", "Audit log", ss, d, "")
}

func (s *Server) handleConsoleAuditVerify(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, false)
	if !ok {
		return
	}
	res, err := s.verifyAudit(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin/audit")
		return
	}
	s.renderConsoleAudit(w, r, ss, &res)
}

func (s *Server) handleConsolePolicy(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, false)
	if !ok {
		return
	}
	p, err := s.policyView(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.consoleError(w, r, ss, err, "/admin")
		return
	}
	s.consolePage(w, http.StatusOK, "admin_policy.html", "Policy", ss, p, "")
}

// linkPageData is admin_link.html's data: the form that spends a
// one-time link.
type linkPageData struct {
	Kind   string
	Action string
	User   string
}

// linkPage shows the form of a one-time link, or why it cannot be used.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request, kind, path string, status int, msg string) {
	p := page{Title: "Choose a password", Error: msg}
	if ss := sessionFrom(r); ss != nil {
		p.CSRF = ss.sess.CSRFToken
	}
	_, u, err := s.Auth.OpenLink(r.Context(), kind, r.PathValue("token"))
	if err != nil {
		if ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			s.Log.Error("one-time link page", "err", err)
		}
		p.Title, p.Error = "This link cannot be used", ordergate.ErrorMessage(err)
		p.Data = consoleNotice{Back: "/login", BackText: "Go to sign-in"}
		s.render(w, http.StatusNotFound, "admin_notice.html", p)
		return
	}
	p.Data = linkPageData{Kind: kind, Action: path + url.PathEscape(r.PathValue("token")), User: u.Username}
	s.render(w, status, "admin_link.html", p)
}

func (s *Server) handleInvitationPage(w http.ResponseWriter, r *http.Request) {
	s.linkPage(w, r, auth.LinkInvitation, "/invitations/", http.StatusOK, "")
}

func (s *Server) handlePasswordResetPage(w http.ResponseWriter, r *http.Request) {
	s.linkPage(w, r, auth.LinkPasswordReset, "/password-resets/", http.StatusOK, "")
}

func (s *Server) handleInvitationForm(w http.ResponseWriter, r *http.Request) {
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_again") {
		s.linkPage(w, r, auth.LinkInvitation, "/invitations/", http.StatusBadRequest, "The two passwords differ.")
		return
	}
	res, err := s.Auth.AcceptInvitation(r.Context(), r.PathValue("token"), pw, s.client(r))
	if err != nil {
		s.linkPage(w, r, auth.LinkInvitation, "/invitations/", statusOf(err), passwordProblem(err))
		return
	}
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handlePasswordResetForm(w http.ResponseWriter, r *http.Request) {
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_again") {
		s.linkPage(w, r, auth.LinkPasswordReset, "/password-resets/", http.StatusBadRequest, "The two passwords differ.")
		return
	}
	if _, err := s.Auth.AcceptPasswordReset(r.Context(), r.PathValue("token"), pw, s.client(r)); err != nil {
		s.linkPage(w, r, auth.LinkPasswordReset, "/password-resets/", statusOf(err), passwordProblem(err))
		return
	}
	s.render(w, http.StatusOK, "admin_notice.html", page{Title: "Password changed",
		Data: consoleNotice{Text: "Your password is changed and your other sessions have ended. Sign in with the new password.",
			Back: "/login", BackText: "Sign in"}})
}

func statusOf(err error) int {
	if st, ok := statuses[ordergate.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// passwordProblem says what is wrong with a chosen password.
func passwordProblem(err error) string {
	var e *ordergate.Error
	if asError(err, &e) && e.Fields["password"] != "" {
		return "Choose another password: " + strings.ReplaceAll(e.Fields["password"], "_", " ") + "."
	}
	if ordergate.ErrorCode(err) == ordergate.EINTERNAL {
		return "Something went wrong on our side. Please try again."
	}
	return ordergate.ErrorMessage(err)
}
