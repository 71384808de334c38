package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

// forwardAuthSecurityEvent records a forward-auth refusal that signing in
// or stepping up would not cure (no rule for the host, a deny rule, a
// missing role) as a security event. The others (no session, a factor
// too weak or too old) are the ordinary way to the login page and count
// only in ordergate_forward_auth_requests_total.
func (s *Server) forwardAuthSecurityEvent(r *http.Request, ss *session, u *url.URL, reason string) {
	if s.Auth == nil || (reason != "no_rule" && reason != "deny_rule" && reason != "missing_role") {
		return
	}
	actor := ordergate.Actor{Kind: ordergate.ActorUser, Auth: ordergate.AuthContext{ClientIP: s.ClientIP(r), UserAgent: r.UserAgent()}}
	subject := ""
	if ss != nil {
		actor, subject = auth.UserActor(ss.user, ss.sess), ss.user.ID
	}
	data := map[string]any{"reason": reason}
	if u != nil {
		data["host"], data["path"] = u.Hostname(), u.EscapedPath()
	}
	if err := s.Auth.RecordSecurityEvent(r.Context(), auth.SecurityForwardAuthDenied, actor, subject, data); err != nil {
		// The answer stays 401; only the record is lost.
		s.Log.Error("record security event", "event", "security.record_failed", "client_ip", actor.Auth.ClientIP, "err", err)
	}
}

// securityEventJSON is one security event of GET /api/v1/admin/security-events.
type securityEventJSON struct {
	Seq       int64          `json:"seq"`
	At        time.Time      `json:"at"`
	Kind      string         `json:"kind"`
	Incident  bool           `json:"incident"`
	ActorID   string         `json:"actor_id,omitempty"`
	Actor     string         `json:"actor,omitempty"`
	SubjectID string         `json:"subject_id,omitempty"`
	ClientIP  string         `json:"client_ip,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
}

// handleSecurityEvents is GET /api/v1/admin/security-events?since=&limit=:
// the security events since since (default: the start of the current
// calendar quarter), newest first, with the incidents of this quarter
// against their target.
func (s *Server) handleSecurityEvents(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx, actor := r.Context(), auth.UserActor(ss.user, ss.sess)
	v := r.URL.Query()
	since, err := querySince(v, auth.QuarterStart(s.Clock.Now()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(v, 500, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, err := s.Auth.SecurityEventLog(ctx, actor, since, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	incidents, err := s.Auth.IncidentsThisQuarter(ctx, actor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []securityEventJSON{}
	for _, e := range evs {
		out = append(out, securityEventFor(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since, "events": out, "incidents_this_quarter": incidents,
		"target": auth.IncidentTarget})
}

func securityEventFor(e audit.Event) securityEventJSON {
	kind := e.Action[len(auth.SecurityActionPrefix):]
	incident := false
	for _, k := range auth.IncidentKinds {
		incident = incident || k == kind
	}
	return securityEventJSON{Seq: e.Seq, At: e.At, Kind: kind, Incident: incident, ActorID: e.Actor.ID, Actor: e.Actor.Name,
		SubjectID: e.SubjectID, ClientIP: e.Actor.Auth.ClientIP, Data: e.Data}
}

// handleReportCompromise is POST /api/v1/admin/users/{id}/compromised
// {"note": "..."}: the user's sign-ins were in the wrong hands. Their
// sessions end, remembered browsers are forgotten, and an incident is
// recorded.
func (s *Server) handleReportCompromise(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Note string `json:"note"`
	}
	if err := optionalJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Note) > 500 {
		s.writeError(w, r, ordergate.FieldError(ordergate.EINVALID, "note", "must be at most 500 characters"))
		return
	}
	if err := s.Auth.ReportCompromise(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"), req.Note); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
