package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// Administration: finding and inspecting users, disabling them, ending
// their sessions and changing their roles and groups. Every change is
// audited with the acting administrator's authentication context. Granting
// a privileged role (admin, approver) takes four eyes: one administrator
// asks, a different one approves with a fresh second factor.

// Administration timings.
const (
	// RoleRequestTTL is how long a privileged role grant waits for approval.
	RoleRequestTTL = 72 * time.Hour
	// RoleApprovalMaxAge is how fresh the approving administrator's second
	// factor must be.
	RoleApprovalMaxAge = 5 * time.Minute
)

// PrivilegedRoles are the roles whose grant needs a second administrator.
var PrivilegedRoles = []string{RoleAdmin, RoleApprover}

// Role request states.
const (
	RoleRequestPending  = "pending"
	RoleRequestApproved = "approved"
	// RoleRequestExpired is how a pending request past its ExpiresAt is
	// reported; it is never stored.
	RoleRequestExpired = "expired"
)

// UserQuery selects users for the administration list. Empty fields do
// not filter.
type UserQuery struct {
	Role  string
	Group string
	// MFA is "none" (no confirmed factor), "enrolled", or "past_deadline"
	// (the same as PastDeadline).
	MFA string
	// PastDeadline keeps only enabled users whom the policy asks for a
	// second factor by now and who have none that counts
	// (Policy.PastDeadline).
	PastDeadline bool
	// Disabled, when set, keeps only disabled (true) or enabled users.
	Disabled *bool
	// Text matches part of the username or e-mail address, ignoring case.
	Text string
	// After continues the list after this username (the cursor).
	After string
	// Limit is the page size: 50 when 0, at most 500.
	Limit int
}

// UserEntry is one row of the administration list: the user with roles
// and groups, and the types of its confirmed factors.
type UserEntry struct {
	User    *User
	Factors []string
}

// RoleRequest is a pending or approved change of a user's roles and groups
// that grants a privileged role.
type RoleRequest struct {
	ID     string
	UserID string
	// Roles and Groups are the user's complete memberships once approved.
	Roles       []string
	Groups      []string
	RequestedBy string
	Status      string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	ApprovedBy  string
	ApprovedAt  time.Time
}

// Account link kinds.
const (
	LinkInvitation    = "invitation"
	LinkPasswordReset = "password_reset"
)

// AccountLink is a one-time link for one user: an invitation to set a
// first password, or a password reset. Only its token's hash is stored.
type AccountLink struct {
	ID        string
	Kind      string
	UserID    string
	TokenHash string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// ActionCount counts audit events of one action and outcome.
type ActionCount struct {
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
	Count   int    `json:"count"`
}

// AdminStore keeps what administration needs beyond Store. Like Store,
// every change is written with its audit events in one transaction.
type AdminStore interface {
	audit.Reader
	// AuditEvents returns up to f.Limit events matching f, newest first.
	AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error)
	// SecurityEventCounts counts, per action and outcome, the events since
	// since whose outcome is not ok or whose action ends in
	// "clone_suspected".
	SecurityEventCounts(ctx context.Context, since time.Time) ([]ActionCount, error)

	// QueryUsers returns the users q selects, ordered by username.
	QueryUsers(ctx context.Context, q UserQuery) ([]UserEntry, error)
	// UserSessions lists a user's sessions, newest first.
	UserSessions(ctx context.Context, userID string) ([]*Session, error)
	// SetUserDisabled disables or enables a user; disabling also ends all
	// of the user's sessions and unused links. ENOTFOUND for an unknown user.
	SetUserDisabled(ctx context.Context, userID string, disabled bool, evs ...audit.Event) error
	// SetMemberships replaces a user's roles and groups. ENOTFOUND for an
	// unknown user.
	SetMemberships(ctx context.Context, userID string, roles, groups []string, evs ...audit.Event) error
	// SetPassword replaces a user's password hash and ends all of the
	// user's sessions but keepSession (which may be empty).
	SetPassword(ctx context.Context, userID, passwordHash, keepSession string, evs ...audit.Event) error

	// CreateRoleRequest stores r with a new ID.
	CreateRoleRequest(ctx context.Context, r *RoleRequest, evs ...audit.Event) error
	// RoleRequest returns ENOTFOUND when there is no such request.
	RoleRequest(ctx context.Context, id string) (*RoleRequest, error)
	// RoleRequests lists requests in status (all when empty) for userID
	// (all users when empty), newest first.
	RoleRequests(ctx context.Context, userID, status string) ([]*RoleRequest, error)
	// ApproveRoleRequest approves request id for approverID at at, if it
	// is pending, unexpired, and neither requested by nor about
	// approverID, and applies its memberships. ECONFLICT otherwise.
	ApproveRoleRequest(ctx context.Context, id, approverID string, at time.Time, evs ...audit.Event) error

	// CreateInvitation stores the new user u (with a new ID), its
	// invitation link and, when not nil, a role request for it.
	// ECONFLICT naming "username" when the username is taken.
	CreateInvitation(ctx context.Context, u *User, link *AccountLink, req *RoleRequest, evs ...audit.Event) error
	// CreateAccountLink stores link with a new ID, replacing the user's
	// unused links of the same kind.
	CreateAccountLink(ctx context.Context, link *AccountLink, evs ...audit.Event) error
	// AccountLink returns the link whose token hashes to tokenHash;
	// ENOTFOUND when there is none.
	AccountLink(ctx context.Context, tokenHash string) (*AccountLink, error)
	// UseAccountLink spends the link, if it is unused and unexpired at the
	// transaction's time: it sets the user's password hash, ends all of
	// the user's sessions and, when sess is not nil, stores sess.
	// ECONFLICT when the link was used or has expired.
	UseAccountLink(ctx context.Context, tokenHash, passwordHash string, sess *Session, evs ...audit.Event) error
}

// requireAdministrator refuses actors who may not administer: change when
// write is true (role admin), read otherwise (admin or auditor); both need
// a second factor.
func requireAdministrator(actor ordergate.Actor, write bool) error {
	ok := actor.HasRole(RoleAdmin) || (!write && actor.HasRole(RoleAuditor))
	if actor.Kind != ordergate.ActorUser || !ok {
		return &ordergate.Error{Code: ordergate.EFORBIDDEN, Message: "this needs the role admin",
			Details: map[string]any{"reason": "not_admin"}}
	}
	if actor.Auth.AAL < ordergate.AAL2 {
		return &ordergate.Error{Code: ordergate.ESTEPUP, Message: "administration needs a second factor",
			Details: map[string]any{"required": map[string]any{"methods": []string{MethodWebAuthn, MethodTOTP}}}}
	}
	return nil
}

// FindUsers returns one page of the users q selects and the cursor of the
// next page ("" at the end).
func (s *Service) FindUsers(ctx context.Context, actor ordergate.Actor, q UserQuery) ([]UserEntry, string, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, "", err
	}
	switch q.MFA {
	case "", "none", "enrolled":
	case "past_deadline":
		q.MFA, q.PastDeadline = "", true
	default:
		return nil, "", ordergate.FieldError(ordergate.EINVALID, "mfa", "must be none, enrolled or past_deadline")
	}
	if q.Role != "" && !slices.Contains(s.Roles, q.Role) {
		return nil, "", ordergate.FieldError(ordergate.EINVALID, "role", "unknown role "+q.Role)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	q.Text = strings.ToLower(strings.TrimSpace(q.Text))
	if q.PastDeadline {
		return s.findPastDeadline(ctx, q)
	}
	want := q.Limit
	q.Limit++
	rows, err := s.adminStore().QueryUsers(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > want {
		rows = rows[:want]
		next = rows[want-1].User.Username
	}
	return rows, next, nil
}

// adminStore is the Store's administration side.
func (s *Service) adminStore() AdminStore { return s.Store }

// UserDetail is everything the administration console shows about a user.
type UserDetail struct {
	User     *User
	Factors  []*Factor
	Sessions []*Session
	// Events are the user's recent security events, newest first.
	Events       []audit.Event
	RoleRequests []*RoleRequest
	// Devices are the user's known browsers, most recently seen first.
	Devices []*Device
}

// UserDetail returns user id with factors, sessions, recent security
// events and pending role requests. ENOTFOUND for an unknown user.
func (s *Service) UserDetail(ctx context.Context, actor ordergate.Actor, id string) (*UserDetail, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &UserDetail{User: u}
	if d.Factors, err = s.Store.Factors(ctx, id); err != nil {
		return nil, err
	}
	if d.Sessions, err = s.adminStore().UserSessions(ctx, id); err != nil {
		return nil, err
	}
	if d.Events, err = s.adminStore().AuditEvents(ctx, audit.Filter{SubjectID: id, Limit: 25}); err != nil {
		return nil, err
	}
	if d.RoleRequests, err = s.adminStore().RoleRequests(ctx, id, RoleRequestPending); err != nil {
		return nil, err
	}
	markExpired(d.RoleRequests, s.Clock.Now())
	if d.Devices, err = s.Devices(ctx, id); err != nil {
		return nil, err
	}
	return d, nil
}

// SetDisabled disables or enables user id. Disabling ends the user's
// sessions in the same transaction. EFORBIDDEN for one's own account.
func (s *Service) SetDisabled(ctx context.Context, actor ordergate.Actor, id string, disabled bool) error {
	if err := requireAdministrator(actor, true); err != nil {
		return err
	}
	if id == actor.ID {
		return ordergate.Errorf(ordergate.EFORBIDDEN, "you cannot disable or enable your own account")
	}
	u, err := s.Store.UserByID(ctx, id)
	if err != nil {
		return err
	}
	action := "user.enabled"
	if disabled {
		action = "user.disabled"
	}
	ev := audit.Event{At: s.Clock.Now(), Action: action, Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"username": u.Username, "sessions_revoked": disabled}}
	if err := s.adminStore().SetUserDisabled(ctx, u.ID, disabled, ev); err != nil {
		return err
	}
	s.Log.Info("user disabled or enabled", "event", action, "user_id", actor.ID, "subject_id", u.ID)
	return nil
}

// RevokeSessions ends all of user id's sessions.
func (s *Service) RevokeSessions(ctx context.Context, actor ordergate.Actor, id string) error {
	if err := requireAdministrator(actor, true); err != nil {
		return err
	}
	u, err := s.Store.UserByID(ctx, id)
	if err != nil {
		return err
	}
	ev := audit.Event{At: s.Clock.Now(), Action: "sessions.revoked", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"username": u.Username}}
	if err := s.Store.DeleteUserSessions(ctx, u.ID, "", ev); err != nil {
		return err
	}
	s.Log.Info("sessions revoked", "event", "sessions.revoked", "user_id", actor.ID, "subject_id", u.ID)
	return nil
}

// normalGroups trims, lower-cases, sorts and de-duplicates group names,
// returning EINVALID naming "groups" for a bad one.
func normalGroups(groups []string) ([]string, error) {
	out := []string{}
	for _, g := range groups {
		g = strings.ToLower(strings.TrimSpace(g))
		if g == "" || len(g) > 64 || strings.ContainsFunc(g, func(r rune) bool { return r < ' ' }) {
			return nil, ordergate.FieldError(ordergate.EINVALID, "groups", "group names are 1-64 printable characters")
		}
		out = append(out, g)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ChangeMemberships sets user id's roles and groups. When the change
// grants a privileged role it is not applied but stored as a pending
// request, returned, for a second administrator to approve; otherwise it
// applies at once and the request is nil. A nil groups keeps the user's
// groups; an empty one clears them. EFORBIDDEN for one's own account.
func (s *Service) ChangeMemberships(ctx context.Context, actor ordergate.Actor, id string, roles, groups []string) (*RoleRequest, error) {
	if err := requireAdministrator(actor, true); err != nil {
		return nil, err
	}
	if err := ValidRoles(roles, s.Roles); err != nil {
		return nil, err
	}
	roles = slices.Compact(slices.Sorted(slices.Values(roles)))
	keepGroups := groups == nil
	groups, err := normalGroups(groups)
	if err != nil {
		return nil, err
	}
	if id == actor.ID {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "you cannot change your own roles; ask another administrator")
	}
	u, err := s.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if keepGroups {
		groups = append([]string{}, u.Groups...)
	}
	now := s.Clock.Now()
	granted := grantedPrivileges(u.Roles, roles)
	if len(granted) > 0 {
		r := &RoleRequest{UserID: u.ID, Roles: roles, Groups: groups, RequestedBy: actor.ID, Status: RoleRequestPending,
			CreatedAt: now, ExpiresAt: now.Add(RoleRequestTTL)}
		ev := audit.Event{At: now, Action: "roles.change_requested", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
			Data: map[string]any{"username": u.Username, "from": u.Roles, "roles": roles, "groups": groups, "privileged": granted}}
		if err := s.adminStore().CreateRoleRequest(ctx, r, ev); err != nil {
			return nil, err
		}
		s.Log.Info("role grant requested", "event", "roles.change_requested", "user_id", actor.ID, "subject_id", u.ID, "request_id", r.ID)
		return r, nil
	}
	ev := audit.Event{At: now, Action: "roles.changed", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"username": u.Username, "from": u.Roles, "roles": roles, "from_groups": u.Groups, "groups": groups}}
	if err := s.adminStore().SetMemberships(ctx, u.ID, roles, groups, ev); err != nil {
		return nil, err
	}
	s.Log.Info("roles changed", "event", "roles.changed", "user_id", actor.ID, "subject_id", u.ID)
	return nil, nil
}

// grantedPrivileges lists the privileged roles in next that from lacks.
func grantedPrivileges(from, next []string) []string {
	var out []string
	for _, r := range next {
		if slices.Contains(PrivilegedRoles, r) && !slices.Contains(from, r) {
			out = append(out, r)
		}
	}
	return out
}

// ApproveRoleRequest approves and applies request id. The approver must be
// an administrator other than the requester and the user concerned
// (EFORBIDDEN, audited) and have proven a second factor within
// RoleApprovalMaxAge (ESTEPUP). An expired or approved request is
// EFORBIDDEN too.
func (s *Service) ApproveRoleRequest(ctx context.Context, actor ordergate.Actor, id string) (*RoleRequest, error) {
	if err := requireAdministrator(actor, true); err != nil {
		return nil, err
	}
	r, err := s.adminStore().RoleRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	deny := func(reason, msg string) error {
		ev := audit.Event{At: now, Action: "roles.approve", Outcome: audit.OutcomeDenied, Actor: actor, SubjectID: r.UserID,
			Data: map[string]any{"request_id": r.ID, "reason": reason}}
		if err := s.Store.AppendAudit(ctx, ev); err != nil {
			return err
		}
		s.Log.Warn("role grant approval refused", "event", "roles.approve_denied", "user_id", actor.ID, "request_id", r.ID, "reason", reason)
		return &ordergate.Error{Code: ordergate.EFORBIDDEN, Message: msg, Details: map[string]any{"reason": reason}}
	}
	switch {
	case r.RequestedBy == actor.ID:
		return nil, deny("own_request", "a different administrator must approve this request")
	case r.UserID == actor.ID:
		return nil, deny("own_account", "you cannot approve a change of your own roles")
	case r.Status != RoleRequestPending:
		return nil, deny("not_pending", "this request was already approved")
	case !now.Before(r.ExpiresAt):
		return nil, deny("expired", "this request has expired; ask for a new one")
	}
	if err := s.RequireFresh(actor.Auth, []string{MethodWebAuthn, MethodTOTP}, RoleApprovalMaxAge); err != nil {
		return nil, err
	}
	ev := audit.Event{At: now, Action: "roles.changed", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: r.UserID,
		Data: map[string]any{"request_id": r.ID, "requested_by": r.RequestedBy, "roles": r.Roles, "groups": r.Groups, "four_eyes": true}}
	if err := s.adminStore().ApproveRoleRequest(ctx, r.ID, actor.ID, now, ev); err != nil {
		if ordergate.ErrorCode(err) == ordergate.ECONFLICT {
			return nil, &ordergate.Error{Code: ordergate.EFORBIDDEN, Message: "this request is no longer pending",
				Details: map[string]any{"reason": "not_pending"}}
		}
		return nil, err
	}
	r.Status, r.ApprovedBy, r.ApprovedAt = RoleRequestApproved, actor.ID, now
	s.Log.Info("role grant approved", "event", "roles.approved", "user_id", actor.ID, "subject_id", r.UserID, "request_id", r.ID)
	return r, nil
}

// RoleRequests lists role requests in status ("" for all), newest first.
// A pending request past its lifetime is reported, and selected, as
// RoleRequestExpired.
func (s *Service) RoleRequests(ctx context.Context, actor ordergate.Actor, status string) ([]*RoleRequest, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, err
	}
	stored := status
	if status == RoleRequestExpired {
		stored = RoleRequestPending
	}
	list, err := s.adminStore().RoleRequests(ctx, "", stored)
	if err != nil {
		return nil, err
	}
	markExpired(list, s.Clock.Now())
	if status == "" {
		return list, nil
	}
	return slices.DeleteFunc(list, func(r *RoleRequest) bool { return r.Status != status }), nil
}

// markExpired reports the pending requests of list past their lifetime at
// now as RoleRequestExpired.
func markExpired(list []*RoleRequest, now time.Time) {
	for _, r := range list {
		if r.Status == RoleRequestPending && !now.Before(r.ExpiresAt) {
			r.Status = RoleRequestExpired
		}
	}
}

// AuditEvents returns events matching f, newest first, for an
// administrator or auditor.
func (s *Service) AuditEvents(ctx context.Context, actor ordergate.Actor, f audit.Filter) ([]audit.Event, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, err
	}
	return s.adminStore().AuditEvents(ctx, f)
}

// SecurityEvents counts the failed, denied and throttled events and the
// clone alerts since since, for an administrator or auditor.
func (s *Service) SecurityEvents(ctx context.Context, actor ordergate.Actor, since time.Time) ([]ActionCount, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, err
	}
	return s.adminStore().SecurityEventCounts(ctx, since)
}

// PhaseReport is one rollout phase as the policy view shows it.
type PhaseReport struct {
	Roles       []string  `json:"roles"`
	Methods     []string  `json:"methods"`
	EnforceFrom time.Time `json:"enforce_from"`
	Deadline    time.Time `json:"deadline"`
	// State is "upcoming", "grace" or "enforced" at the time of the report.
	State string `json:"state"`
	// Users counts the enabled users the phase applies to; Unmet those of
	// them without one of its methods.
	Users int `json:"users"`
	Unmet int `json:"unmet"`
}

// PolicyReport is the second-factor policy as the server applies it.
type PolicyReport struct {
	MandatoryRoles         []string `json:"mandatory_roles"`
	MandatoryUsers         int      `json:"mandatory_users"`
	PhishingResistantRoles []string `json:"phishing_resistant_roles"`
	TrustedNetworks        []string `json:"trusted_networks"`
	// Methods are the second factors this server offers.
	Methods []string      `json:"methods"`
	Rollout []PhaseReport `json:"rollout"`
	// Sessions are the idle and absolute limits per assurance level.
	Sessions map[string]map[string]string `json:"sessions"`
}

// PolicyReport returns the effective second-factor policy with how many enabled
// users each mandate and rollout phase affects.
func (s *Service) PolicyReport(ctx context.Context, actor ordergate.Actor) (*PolicyReport, error) {
	if err := requireAdministrator(actor, false); err != nil {
		return nil, err
	}
	users, enrolled, err := s.usersAndMethods(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	p := s.Policy
	rep := &PolicyReport{MandatoryRoles: nonNil(p.MandatoryRoles), PhishingResistantRoles: nonNil(p.PhishingResistantRoles),
		TrustedNetworks: []string{}, Methods: nonNil(p.Available), Rollout: []PhaseReport{}}
	if p.Available == nil {
		rep.Methods = AllMethods
	}
	for _, n := range p.TrustedNetworks {
		rep.TrustedNetworks = append(rep.TrustedNetworks, n.String())
	}
	for _, ph := range p.Rollout {
		pr := PhaseReport{Roles: ph.Roles, Methods: ph.Methods, EnforceFrom: ph.EnforceFrom, Deadline: ph.Deadline(), State: "upcoming"}
		switch {
		case !now.Before(ph.Deadline()):
			pr.State = "enforced"
		case !now.Before(ph.EnforceFrom):
			pr.State = "grace"
		}
		for _, u := range users {
			if u.Disabled || !ph.applies(u) {
				continue
			}
			pr.Users++
			if !slices.ContainsFunc(ph.Methods, func(m string) bool { return slices.Contains(enrolled[u.ID], m) }) {
				pr.Unmet++
			}
		}
		rep.Rollout = append(rep.Rollout, pr)
	}
	for _, u := range users {
		if !u.Disabled && slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(p.MandatoryRoles, r) }) {
			rep.MandatoryUsers++
		}
	}
	rep.Sessions = map[string]map[string]string{}
	for name, t := range map[string]Timeouts{"aal1": s.Sessions.AAL1, "aal2": s.Sessions.AAL2, "aal3": s.Sessions.AAL3, "pending": s.Sessions.Pending} {
		rep.Sessions[name] = map[string]string{"idle": t.Idle.String(), "absolute": t.Absolute.String()}
	}
	return rep, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
