package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

// The administration JSON API: users, invitations, role changes,
// passwords. Routes are in routes.go; requireRoles checks role and AAL2,
// and the auth service checks again.

// userRowJSON is one user in GET /api/v1/admin/users.
type userRowJSON struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Roles       []string   `json:"roles"`
	Groups      []string   `json:"groups"`
	MFAEnrolled bool       `json:"mfa_enrolled"`
	Factors     []string   `json:"factors"`
	Disabled    bool       `json:"disabled"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func userRow(e auth.UserEntry) userRowJSON {
	u := e.User
	return userRowJSON{ID: u.ID, Username: u.Username, Roles: nonNilStrings(u.Roles), Groups: nonNilStrings(u.Groups),
		MFAEnrolled: len(e.Factors) > 0, Factors: nonNilStrings(e.Factors), Disabled: u.Disabled, LastLoginAt: timeOrNil(u.LastLoginAt)}
}

// userQuery reads the list filters from the query string.
func userQuery(r *http.Request) (auth.UserQuery, error) {
	v := r.URL.Query()
	q := auth.UserQuery{Role: v.Get("role"), Group: v.Get("group"), MFA: v.Get("mfa"), Text: v.Get("q"), After: v.Get("cursor")}
	if d := v.Get("disabled"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return q, ordergate.FieldError(ordergate.EINVALID, "disabled", "must be true or false")
		}
		q.Disabled = &b
	}
	if d := v.Get("past_deadline"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return q, ordergate.FieldError(ordergate.EINVALID, "past_deadline", "must be true or false")
		}
		q.PastDeadline = b
	}
	var err error
	q.Limit, err = queryLimit(v, 0, 500)
	return q, err
}

func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, ss *session) {
	q, err := userQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, next, err := s.Auth.FindUsers(r.Context(), auth.UserActor(ss.user, ss.sess), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users := make([]userRowJSON, 0, len(rows))
	for _, e := range rows {
		users = append(users, userRow(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "next": next})
}

// roleRequestJSON is a role request as the API shows it.
type roleRequestJSON struct {
	ID          string     `json:"id"`
	UserID      string     `json:"user_id"`
	Roles       []string   `json:"roles"`
	Groups      []string   `json:"groups"`
	RequestedBy string     `json:"requested_by"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	ApprovedBy  string     `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
}

func roleRequestOut(rr *auth.RoleRequest) roleRequestJSON {
	return roleRequestJSON{ID: rr.ID, UserID: rr.UserID, Roles: nonNilStrings(rr.Roles), Groups: nonNilStrings(rr.Groups),
		RequestedBy: rr.RequestedBy, Status: rr.Status, CreatedAt: rr.CreatedAt, ExpiresAt: rr.ExpiresAt,
		ApprovedBy: rr.ApprovedBy, ApprovedAt: timeOrNil(rr.ApprovedAt)}
}

// userDetailJSON is GET /api/v1/admin/users/{id}.
type userDetailJSON struct {
	ID           string            `json:"id"`
	Username     string            `json:"username"`
	Email        string            `json:"email"`
	Phone        string            `json:"phone"`
	Roles        []string          `json:"roles"`
	Groups       []string          `json:"groups"`
	Disabled     bool              `json:"disabled"`
	CreatedAt    time.Time         `json:"created_at"`
	LastLoginAt  *time.Time        `json:"last_login_at"`
	MFAEnrolled  bool              `json:"mfa_enrolled"`
	Factors      []adminFactorJSON `json:"factors"`
	Sessions     []sessionJSON     `json:"sessions"`
	Events       []audit.Event     `json:"events"`
	RoleRequests []roleRequestJSON `json:"role_requests"`
	Devices      []deviceJSON      `json:"devices"`
}

type adminFactorJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Confirmed  bool       `json:"confirmed"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// sessionJSON shows a session by its public identifier, never its token.
type sessionJSON struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	AAL        int       `json:"aal"`
	AMR        []string  `json:"amr"`
	ClientIP   string    `json:"client_ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func userDetailOut(d *auth.UserDetail, now time.Time) userDetailJSON {
	u := d.User
	out := userDetailJSON{ID: u.ID, Username: u.Username, Email: u.Email, Phone: u.Phone, Roles: nonNilStrings(u.Roles),
		Groups: nonNilStrings(u.Groups), Disabled: u.Disabled, CreatedAt: u.CreatedAt, LastLoginAt: timeOrNil(u.LastLoginAt),
		Factors: []adminFactorJSON{}, Sessions: []sessionJSON{}, Events: d.Events, RoleRequests: []roleRequestJSON{}}
	if out.Events == nil {
		out.Events = []audit.Event{}
	}
	for _, f := range d.Factors {
		out.MFAEnrolled = out.MFAEnrolled || f.Confirmed
		out.Factors = append(out.Factors, adminFactorJSON{ID: f.ID, Type: f.Type, Name: f.Name, Confirmed: f.Confirmed,
			CreatedAt: f.CreatedAt, LastUsedAt: timeOrNil(f.LastUsedAt)})
	}
	for _, se := range d.Sessions {
		out.Sessions = append(out.Sessions, sessionJSON{ID: se.PublicID(), State: string(se.State), AAL: int(se.Auth.AAL),
			AMR: nonNilStrings(se.Auth.AMR), ClientIP: se.Auth.ClientIP, UserAgent: se.Auth.UserAgent,
			CreatedAt: se.CreatedAt, LastSeenAt: se.LastSeenAt, ExpiresAt: se.ExpiresAt})
	}
	for _, rr := range d.RoleRequests {
		out.RoleRequests = append(out.RoleRequests, roleRequestOut(rr))
	}
	out.Devices = devicesOut(d.Devices, now, "")
	return out
}

func (s *Server) handleAdminUser(w http.ResponseWriter, r *http.Request, ss *session) {
	d, err := s.Auth.UserDetail(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userDetailOut(d, s.Clock.Now()))
}

func (s *Server) handleAdminUserDisable(w http.ResponseWriter, r *http.Request, ss *session) {
	s.adminSetDisabled(w, r, ss, true)
}

func (s *Server) handleAdminUserEnable(w http.ResponseWriter, r *http.Request, ss *session) {
	s.adminSetDisabled(w, r, ss, false)
}

func (s *Server) adminSetDisabled(w http.ResponseWriter, r *http.Request, ss *session, disabled bool) {
	id := r.PathValue("id")
	if err := s.Auth.SetDisabled(r.Context(), auth.UserActor(ss.user, ss.sess), id, disabled); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "disabled": disabled})
}

func (s *Server) handleAdminSessionsRevoke(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := s.Auth.RevokeSessions(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAdminRoles(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Roles  []string `json:"roles"`
		Groups []string `json:"groups"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	rr, err := s.Auth.ChangeMemberships(r.Context(), auth.UserActor(ss.user, ss.sess), id, req.Roles, req.Groups)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rr != nil {
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "pending_approval", "request": roleRequestOut(rr)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "applied", "id": id})
}

func (s *Server) handleAdminRoleRequests(w http.ResponseWriter, r *http.Request, ss *session) {
	list, err := s.Auth.RoleRequests(r.Context(), auth.UserActor(ss.user, ss.sess), r.URL.Query().Get("status"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []roleRequestJSON{}
	for _, rr := range list {
		out = append(out, roleRequestOut(rr))
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (s *Server) handleAdminRoleRequestApprove(w http.ResponseWriter, r *http.Request, ss *session) {
	rr, err := s.Auth.ApproveRoleRequest(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, roleRequestOut(rr))
}

// linkURL is the one-time link for token under path, on the public URL.
func (s *Server) linkURL(r *http.Request, path, token string) string {
	base := strings.TrimRight(s.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if s.Secure {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + path + token
}

func (s *Server) handleAdminInvite(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Username string   `json:"username"`
		Roles    []string `json:"roles"`
		Groups   []string `json:"groups"`
		Email    string   `json:"email"`
		Phone    string   `json:"phone"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	il, err := s.Auth.Invite(r.Context(), auth.UserActor(ss.user, ss.sess),
		auth.Invitation{Username: req.Username, Roles: req.Roles, Groups: req.Groups, Email: req.Email, Phone: req.Phone})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	link := s.linkURL(r, "/invitations/", il.Token)
	body := map[string]any{"id": il.Link.ID, "user_id": il.User.ID, "url": link,
		"expires_at": il.Link.ExpiresAt, "sent_via": s.sendInvitation(r, auth.UserActor(ss.user, ss.sess), il, link)}
	if il.RoleRequest != nil {
		body["role_request"] = roleRequestOut(il.RoleRequest)
	}
	writeJSON(w, http.StatusCreated, body)
}

// passwordBody is the body of the one-time link accept endpoints.
type passwordBody struct {
	Password string `json:"password"`
}

func (s *Server) handleInvitationAccept(w http.ResponseWriter, r *http.Request) {
	var req passwordBody
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.AcceptInvitation(r.Context(), r.PathValue("token"), req.Password, s.client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	writeJSON(w, http.StatusOK, answerFor(res))
}

func (s *Server) handleAdminPasswordReset(w http.ResponseWriter, r *http.Request, ss *session) {
	il, err := s.Auth.IssuePasswordReset(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": il.Link.ID, "url": s.linkURL(r, "/password-resets/", il.Token),
		"expires_at": il.Link.ExpiresAt})
}

func (s *Server) handlePasswordResetAccept(w http.ResponseWriter, r *http.Request) {
	var req passwordBody
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Auth.AcceptPasswordReset(r.Context(), r.PathValue("token"), req.Password, s.client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": "password_changed", "username": u.Username, "next": "/login"})
}

func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Auth.ChangePassword(r.Context(), ss.sess, ss.user, req.CurrentPassword, req.NewPassword); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// auditAdminDenied records a signed-in user's refused call to an
// administration endpoint.
func (s *Server) auditAdminDenied(r *http.Request, ss *session) {
	ev := audit.Event{At: s.Clock.Now(), Action: "admin.access", Outcome: audit.OutcomeDenied, Actor: auth.UserActor(ss.user, ss.sess),
		Data: map[string]any{"method": r.Method, "path": r.URL.Path}}
	if err := s.Auth.Store.AppendAudit(r.Context(), ev); err != nil {
		s.Log.Error("audit", "event", "admin.access_denied", "err", err)
	}
	s.Log.Warn("administration refused", "event", "admin.access_denied", "user_id", ss.user.ID, "path", r.URL.Path)
}
