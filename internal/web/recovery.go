package web

import (
	"net/http"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
)

// factorResetJSON is a reset request in the admin API.
type factorResetJSON struct {
	ID          string     `json:"id"`
	UserID      string     `json:"user_id"`
	RequestedBy string     `json:"requested_by"`
	Reason      string     `json:"reason"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	ApprovedBy  string     `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
}

func resetJSON(r *auth.FactorReset, now time.Time) factorResetJSON {
	j := factorResetJSON{ID: r.ID, UserID: r.UserID, RequestedBy: r.RequestedBy, Reason: r.Reason, Status: r.Status,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, ApprovedBy: r.ApprovedBy}
	if r.Status == auth.ResetPending && !now.Before(r.ExpiresAt) {
		j.Status = "expired"
	}
	if !r.ApprovedAt.IsZero() {
		t := r.ApprovedAt
		j.ApprovedAt = &t
	}
	return j
}

func (s *Server) handleFactorResetRequest(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fr, err := s.Auth.RequestFactorReset(r.Context(), ss.sess, ss.user, r.PathValue("id"), req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, resetJSON(fr, s.Clock.Now()))
}

func (s *Server) handleFactorResets(w http.ResponseWriter, r *http.Request, ss *session) {
	list, err := s.Auth.FactorResets(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []factorResetJSON{}
	for _, fr := range list {
		out = append(out, resetJSON(fr, s.Clock.Now()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"resets": out})
}

func (s *Server) handleFactorResetApprove(w http.ResponseWriter, r *http.Request, ss *session) {
	res, err := s.Auth.ApproveFactorReset(r.Context(), ss.sess, ss.user, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.Auth.DispatchSoon()
	writeJSON(w, http.StatusOK, map[string]any{"reset": resetJSON(res.Reset, s.Clock.Now()),
		"url": res.URL, "token": res.Token, "expires_at": res.ExpiresAt})
}

func (s *Server) handleRecoveryAccept(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.AcceptRecovery(r.Context(), r.PathValue("token"), req.Password, s.client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	writeJSON(w, http.StatusOK, answerFor(res))
}
