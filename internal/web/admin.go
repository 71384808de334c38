package web

import (
	"net/http"
	"slices"

	"github.com/ordergate/ordergate"
)

// requireRoles wraps a handler for active AAL2 sessions of users holding
// one of roles. Administration always needs a second factor.
func (s *Server) requireRoles(roles []string, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return s.requireSession(func(w http.ResponseWriter, r *http.Request, ss *session) {
		if !slices.ContainsFunc(ss.user.Roles, func(role string) bool { return slices.Contains(roles, role) }) {
			s.auditAdminDenied(r, ss)
			s.writeError(w, r, ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role %s", roles[0]))
			return
		}
		if ss.sess.Auth.AAL < ordergate.AAL2 {
			s.writeError(w, r, &ordergate.Error{Code: ordergate.ESTEPUP, Message: "administration needs a second factor",
				Details: map[string]any{"required": map[string]any{"methods": []string{"webauthn", "totp"}}}})
			return
		}
		h(w, r, ss)
	})
}

// Role sets for administration: admins change, auditors may read.
var (
	adminRoles  = []string{"admin"}
	readerRoles = []string{"admin", "auditor"}
)

func (s *Server) handleAdoption(w http.ResponseWriter, r *http.Request, ss *session) {
	rep, err := s.Auth.Adoption(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	roles := map[string]any{}
	for _, ra := range rep.Roles {
		roles[ra.Role] = ra
	}
	writeJSON(w, http.StatusOK, map[string]any{"overall": rep.Overall, "roles": roles,
		"past_deadline_users": rep.PastDeadline, "trend": rep.Trend, "target_percent": 95})
}
