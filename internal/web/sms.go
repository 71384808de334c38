package web

import (
	"net/http"

	"github.com/ordergate/ordergate/internal/auth"
)

func (s *Server) handleSMSBegin(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Phone string `json:"phone"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.Auth.BeginSMS(r.Context(), ss.sess, ss.user, req.Phone)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": e.ID, "phone": e.Phone, "code_sent": true,
		"notice": e.Notice, "alternatives": e.Alternatives})
}

func (s *Server) handleSMSConfirm(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.ConfirmSMS(r.Context(), ss.sess, ss.user, r.PathValue("id"), req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.Auth.DispatchSoon()
	body := map[string]any{"id": res.ID, "confirmed": true}
	if res.Token != "" {
		s.replaceCookie(w, ss, res.Token, res.Session)
		body["state"], body["session_token"], body["aal"] = auth.LoginAuthenticated, res.Token, int(res.Session.Auth.AAL)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleLoginSMSSend(w http.ResponseWriter, r *http.Request, ss *session) {
	phone, err := s.Auth.SendLoginSMS(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": true, "phone": phone})
}

func (s *Server) handleVouchSMSSend(w http.ResponseWriter, r *http.Request, ss *session) {
	phone, err := s.Auth.SendVouchSMS(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": true, "phone": phone})
}

func (s *Server) handleVouchSMS(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.Auth.VouchSMS(r.Context(), ss.sess, ss.user, req.Code); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"vouched": true})
}
