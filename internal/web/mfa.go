package web

import (
	"net/http"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// anySession wraps a handler that accepts any signed-in session, pending
// and enrollment-only ones included; the domain checks the state.
func (s *Server) anySession(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := sessionFrom(r)
		if ss == nil {
			s.writeError(w, r, auth.ErrNoSession)
			return
		}
		h(w, r, ss)
	}
}

type codeRequest struct {
	Method  string `json:"method"`
	Code    string `json:"code"`
	Action  string `json:"action"`
	OrderID string `json:"order_id"`
}

func (s *Server) handleLoginMFA(w http.ResponseWriter, r *http.Request, ss *session) {
	var req codeRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	start := time.Now()
	res, err := s.Auth.CompleteLogin(r.Context(), ss.sess, ss.user, req.Method, req.Code)
	outcome := "ok"
	if err != nil {
		outcome = ordergate.ErrorCode(err)
	}
	s.Metrics.LoginStep.WithLabelValues("second_factor", outcome).Observe(time.Since(start).Seconds())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.Metrics.Logins.WithLabelValues("authenticated").Inc()
	s.replaceCookie(w, ss, res.Token, res.Session)
	body := map[string]any{"state": res.State, "session_token": res.Token, "aal": int(res.Session.Auth.AAL)}
	if res.BackupCodesLeft != nil {
		body["backup_codes_left"] = *res.BackupCodesLeft
		body["next"] = "secure_account"
	}
	writeJSON(w, http.StatusOK, body)
}

// replaceCookie moves a cookie session to its new token.
func (s *Server) replaceCookie(w http.ResponseWriter, ss *session, token string, next *auth.Session) {
	if ss.cookie && token != "" {
		s.setSessionCookie(w, token, next.ExpiresAt)
	}
}

func (s *Server) handleTOTPBegin(w http.ResponseWriter, r *http.Request, ss *session) {
	e, err := s.Auth.BeginTOTP(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": e.ID, "secret": e.Secret, "otpauth_uri": e.URI, "qr_png": e.QRPNG})
}

func (s *Server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.ConfirmTOTP(r.Context(), ss.sess, ss.user, r.PathValue("id"), req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body := map[string]any{"id": res.ID, "confirmed": true}
	if res.Token != "" {
		s.replaceCookie(w, ss, res.Token, res.Session)
		body["state"], body["session_token"], body["aal"] = auth.LoginAuthenticated, res.Token, int(res.Session.Auth.AAL)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleBackupCodes(w http.ResponseWriter, r *http.Request, ss *session) {
	codes, err := s.Auth.GenerateBackupCodes(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
}

// factorJSON is one factor in GET /api/v1/me/factors.
type factorJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Confirmed  bool       `json:"confirmed"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func (s *Server) handleFactors(w http.ResponseWriter, r *http.Request, ss *session) {
	fs, err := s.Auth.Store.Factors(r.Context(), ss.user.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []factorJSON{}
	for _, f := range fs {
		j := factorJSON{ID: f.ID, Type: f.Type, Name: f.Name, Confirmed: f.Confirmed, CreatedAt: f.CreatedAt}
		if !f.LastUsedAt.IsZero() {
			t := f.LastUsedAt
			j.LastUsedAt = &t
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleFactorRename(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Auth.RenameFactor(r.Context(), ss.sess, ss.user, r.PathValue("id"), req.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleFactorDelete(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := s.Auth.RemoveFactor(r.Context(), ss.sess, ss.user, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleStepUp(w http.ResponseWriter, r *http.Request, ss *session) {
	var req codeRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkStepUpGrantTarget(r.Context(), req.Action, req.OrderID); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.StepUp(r.Context(), ss.sess, ss.user, req.Method, req.Code, req.Action, req.OrderID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body := map[string]any{"aal": int(res.Session.Auth.AAL), "amr": res.Session.Auth.AMR}
	if res.Token != "" {
		s.replaceCookie(w, ss, res.Token, res.Session)
		body["session_token"] = res.Token
	}
	id, err := s.issueStepUpGrant(r.Context(), ss.user, res.Session, req.Method, req.Action, req.OrderID, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if id != "" {
		body["step_up_id"] = id
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleLoginPostpone(w http.ResponseWriter, r *http.Request, ss *session) {
	res, err := s.Auth.Postpone(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.replaceCookie(w, ss, res.Token, res.Session)
	a := answerFor(res)
	left := res.PostponesLeft
	a.PostponesLeft = &left
	writeJSON(w, http.StatusOK, a)
}
