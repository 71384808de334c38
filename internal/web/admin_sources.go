package web

import (
	"net/http"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/intake"
)

// Intake sources in the administration API, and the rotate and revoke
// forms of the sources page (order_pages.go shows the page and adds
// sources). The intake service does the work and the auditing; a secret
// or API key is in the answer that made it, and never again.

// sourceJSON is a source as the API shows it: never its secret or hash.
type sourceJSON struct {
	ID             string     `json:"id"`
	Channel        string     `json:"channel"`
	Name           string     `json:"name"`
	Credential     string     `json:"credential"`
	CreatedAt      time.Time  `json:"created_at"`
	LastDeliveryAt *time.Time `json:"last_delivery_at"`
	ErrorCount     int        `json:"error_count"`
	Revoked        bool       `json:"revoked"`
	URL            string     `json:"url"`
}

func sourceOut(src *intake.Source) sourceJSON {
	row := sourceRowOf(src)
	cred := "api_key"
	if src.SealedSecret != nil {
		cred = "webhook_secret"
	}
	return sourceJSON{ID: src.ID, Channel: src.Channel, Name: src.Name, Credential: cred, CreatedAt: src.CreatedAt,
		LastDeliveryAt: timeOrNil(src.LastDeliveryAt), ErrorCount: src.ErrorCount, Revoked: src.Revoked, URL: row.URL}
}

// sourcesOn answers EUNAVAILABLE when orders and intake are not enabled.
func (s *Server) sourcesOn(w http.ResponseWriter, r *http.Request) bool {
	if s.orders == nil {
		s.writeError(w, r, errOrdersOff)
		return false
	}
	return true
}

// GET /api/v1/admin/sources (admin; auditor may read)
func (s *Server) handleAdminSources(w http.ResponseWriter, r *http.Request, ss *session) {
	if !s.sourcesOn(w, r) {
		return
	}
	list, err := s.orders.intake.Sources(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []sourceJSON{}
	for _, src := range list {
		out = append(out, sourceOut(src))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// POST /api/v1/admin/sources {"channel", "name", "secret"} (admin)
func (s *Server) handleAdminSourceCreate(w http.ResponseWriter, r *http.Request, ss *session) {
	if !s.sourcesOn(w, r) {
		return
	}
	var req struct {
		Channel string `json:"channel"`
		Name    string `json:"name"`
		Secret  string `json:"secret"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	src, secret, err := s.orders.intake.AddSource(r.Context(), auth.UserActor(ss.user, ss.sess), req.Channel, req.Name, req.Secret)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"source": sourceOut(src), "secret": secret})
}

// POST /api/v1/admin/sources/{id}/rotate (admin)
func (s *Server) handleAdminSourceRotate(w http.ResponseWriter, r *http.Request, ss *session) {
	if !s.sourcesOn(w, r) {
		return
	}
	src, secret, err := s.orders.intake.RotateSource(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"source": sourceOut(src), "secret": secret})
}

// POST /api/v1/admin/sources/{id}/revoke (admin)
func (s *Server) handleAdminSourceRevoke(w http.ResponseWriter, r *http.Request, ss *session) {
	if !s.sourcesOn(w, r) {
		return
	}
	actor := auth.UserActor(ss.user, ss.sess)
	if err := s.orders.intake.RevokeSource(r.Context(), actor, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	src, err := s.orders.intake.Store.SourceByID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"source": sourceOut(src)})
}

// POST /admin/sources/{id}/rotate: the new secret is shown on the page,
// once.
func (s *Server) handleSourceRotateForm(w http.ResponseWriter, r *http.Request) {
	ss := s.adminPage(w, r, adminRoles)
	if ss == nil {
		return
	}
	if s.orders == nil {
		s.renderOrderError(w, r, ss, errOrdersOff)
		return
	}
	src, secret, err := s.orders.intake.RotateSource(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"))
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderSources(w, r, ss, sourcesData{}, status, msg)
		return
	}
	row := sourceRowOf(src)
	s.renderSources(w, r, ss, sourcesData{Created: &row, Secret: secret, Rotated: true}, http.StatusOK, "")
}

// POST /admin/sources/{id}/revoke
func (s *Server) handleSourceRevokeForm(w http.ResponseWriter, r *http.Request) {
	ss := s.adminPage(w, r, adminRoles)
	if ss == nil {
		return
	}
	if s.orders == nil {
		s.renderOrderError(w, r, ss, errOrdersOff)
		return
	}
	if err := s.orders.intake.RevokeSource(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id")); err != nil {
		status, msg := s.pageError(r, err)
		s.renderSources(w, r, ss, sourcesData{}, status, msg)
		return
	}
	http.Redirect(w, r, "/admin/sources", http.StatusSeeOther)
}
