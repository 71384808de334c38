package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// readCredential reads the browser's PublicKeyCredential JSON as it is; the
// relying party parses and verifies it.
func readCredential(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, ordergate.Errorf(ordergate.EINVALID, "request body too large (limit %d bytes)", tooBig.Limit)
	case err != nil:
		return nil, ordergate.Errorf(ordergate.EINVALID, "unreadable body")
	case !json.Valid(b):
		return nil, ordergate.Errorf(ordergate.EINVALID, "malformed JSON")
	}
	return b, nil
}

// writeOptions answers with WebAuthn options exactly as go-webauthn made them.
func writeOptions(w http.ResponseWriter, options []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(options)
}

// optionalJSON decodes a body that may be empty.
func optionalJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decodeJSON(r, v)
}

func (s *Server) handleWebAuthnRegisterBegin(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Name string `json:"name"`
	}
	if err := optionalJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	opts, err := s.Auth.BeginWebAuthnRegistration(r.Context(), ss.sess, ss.user, req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOptions(w, opts)
}

func (s *Server) handleWebAuthnRegisterFinish(w http.ResponseWriter, r *http.Request, ss *session) {
	body, err := readCredential(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.FinishWebAuthnRegistration(r.Context(), ss.sess, ss.user, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"id": res.ID, "name": res.Name, "aaguid": res.AAGUID}
	if res.Token != "" {
		s.replaceCookie(w, ss, res.Token, res.Session)
		out["state"], out["session_token"], out["aal"] = auth.LoginAuthenticated, res.Token, int(res.Session.Auth.AAL)
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleWebAuthnLoginBegin(w http.ResponseWriter, r *http.Request, ss *session) {
	opts, err := s.Auth.BeginWebAuthnLogin(r.Context(), ss.sess, ss.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOptions(w, opts)
}

func (s *Server) handleWebAuthnLoginFinish(w http.ResponseWriter, r *http.Request, ss *session) {
	body, err := readCredential(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	start := time.Now()
	res, err := s.Auth.FinishWebAuthnLogin(r.Context(), ss.sess, ss.user, body)
	s.observeSecondFactor(start, err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.Metrics.Logins.WithLabelValues("authenticated").Inc()
	s.replaceCookie(w, ss, res.Token, res.Session)
	writeJSON(w, http.StatusOK, map[string]any{"state": res.State, "session_token": res.Token, "aal": int(res.Session.Auth.AAL)})
}

func (s *Server) observeSecondFactor(start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = ordergate.ErrorCode(err)
	}
	s.Metrics.LoginStep.WithLabelValues("second_factor", outcome).Observe(time.Since(start).Seconds())
}

func (s *Server) handlePasskeyBegin(w http.ResponseWriter, r *http.Request) {
	opts, err := s.Auth.BeginPasskeyLogin(r.Context(), s.client(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOptions(w, opts)
}

func (s *Server) handlePasskeyFinish(w http.ResponseWriter, r *http.Request) {
	body, err := readCredential(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	start := time.Now()
	res, err := s.Auth.FinishPasskeyLogin(r.Context(), body, s.client(r))
	s.observeSecondFactor(start, err)
	if err != nil {
		s.Metrics.Logins.WithLabelValues(ordergate.ErrorCode(err)).Inc()
		s.writeError(w, r, err)
		return
	}
	s.Metrics.Logins.WithLabelValues("authenticated").Inc()
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	s.setDeviceCookie(w, r, res)
	writeJSON(w, http.StatusOK, map[string]any{"state": res.State, "session_token": res.Token, "aal": int(res.Session.Auth.AAL),
		"reasons": res.Reasons})
}

func (s *Server) handleWebAuthnStepUpBegin(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Action  string `json:"action"`
		OrderID string `json:"order_id"`
	}
	if err := optionalJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	opts, err := s.Auth.BeginWebAuthnStepUp(r.Context(), ss.sess, ss.user, req.Action, req.OrderID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOptions(w, opts)
}

func (s *Server) handleWebAuthnStepUpFinish(w http.ResponseWriter, r *http.Request, ss *session) {
	body, err := readCredential(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.FinishWebAuthnStepUp(r.Context(), ss.sess, ss.user, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"aal": int(res.Session.Auth.AAL), "amr": res.Session.Auth.AMR, "receipt": res.Receipt}
	if res.Token != "" {
		s.replaceCookie(w, ss, res.Token, res.Session)
		out["session_token"] = res.Token
	}
	if tx := res.Receipt.Transaction; tx != nil {
		// The challenge covered the order: the verified assertion becomes
		// a one-time grant and is kept with the action as its evidence.
		id, err := s.issueStepUpGrant(r.Context(), ss.user, res.Session, auth.MethodWebAuthn, tx.Action, tx.OrderID,
			map[string]any{"webauthn_receipt": res.Receipt})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if id != "" {
			out["step_up_id"] = id
		}
	}
	writeJSON(w, http.StatusOK, out)
}
