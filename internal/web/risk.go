package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// deviceCookieName is the long-lived cookie that tells a known browser
// from a new one. It carries a device identifier and an HMAC over it, so a
// client cannot claim another browser's identity.
func (s *Server) deviceCookieName() string {
	if s.Secure {
		return "__Host-ordergate_device"
	}
	return "ordergate_device"
}

// deviceCookieMaxAge is the longest lifetime browsers accept (400 days).
const deviceCookieMaxAge = 400 * 24 * time.Hour

func (s *Server) signDevice(id string) string {
	m := hmac.New(sha256.New, s.DeviceKey)
	m.Write([]byte("ordergate/device/" + id))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// deviceID returns the device identifier of the request's cookie when its
// signature is right, and "" otherwise.
func (s *Server) deviceID(r *http.Request) string {
	if len(s.DeviceKey) == 0 {
		return ""
	}
	c, err := r.Cookie(s.deviceCookieName())
	if err != nil || len(c.Value) > 128 {
		return ""
	}
	id, _, ok := strings.Cut(c.Value, ".")
	if !ok || id == "" || !hmac.Equal([]byte(s.signDevice(id)), []byte(c.Value)) {
		return ""
	}
	return id
}

// setDeviceCookie gives the browser its device identifier after a login.
func (s *Server) setDeviceCookie(w http.ResponseWriter, r *http.Request, res *auth.LoginResult) {
	if res == nil || res.Risk == nil || len(s.DeviceKey) == 0 || res.Risk.DeviceID == s.deviceID(r) {
		return
	}
	s.writeDeviceCookie(w, res.Risk.DeviceID)
}

// writeDeviceCookie sets the signed device cookie for id, for the longest
// lifetime browsers accept.
func (s *Server) writeDeviceCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: s.deviceCookieName(), Value: s.signDevice(id), Path: "/",
		MaxAge: int(deviceCookieMaxAge / time.Second), HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

// deviceJSON is one browser in the device lists.
type deviceJSON struct {
	ID              string     `json:"id"`
	UserAgent       string     `json:"user_agent"`
	FirstSeenAt     time.Time  `json:"first_seen_at"`
	LastSeenAt      time.Time  `json:"last_seen_at"`
	RememberedUntil *time.Time `json:"remembered_until"`
	Current         bool       `json:"current,omitempty"`
}

func (s *Server) writeDevices(w http.ResponseWriter, r *http.Request, userID string) {
	ds, err := s.Auth.Devices(r.Context(), userID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": devicesOut(ds, s.Clock.Now(), s.deviceID(r))})
}

// GET /api/v1/me/devices
func (s *Server) handleMyDevices(w http.ResponseWriter, r *http.Request, ss *session) {
	s.writeDevices(w, r, ss.user.ID)
}

// DELETE /api/v1/me/devices/{id}
func (s *Server) handleMyDeviceForget(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := s.Auth.ForgetDevice(r.Context(), auth.UserActor(ss.user, ss.sess), ss.user.ID, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /api/v1/me/devices/current/remember: "trust this browser" right
// after a second factor.
func (s *Server) handleRememberDevice(w http.ResponseWriter, r *http.Request, ss *session) {
	until, err := s.Auth.RememberDevice(r.Context(), ss.sess, ss.user, s.deviceID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"remembered_until": until})
}

// GET /api/v1/admin/users/{id}/devices
func (s *Server) handleUserDevices(w http.ResponseWriter, r *http.Request, ss *session) {
	if _, err := s.Auth.Store.UserByID(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err) // 404 for an unknown user, not an empty list
		return
	}
	s.writeDevices(w, r, r.PathValue("id"))
}

// DELETE /api/v1/admin/users/{id}/devices/{device}
func (s *Server) handleUserDeviceForget(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := s.Auth.ForgetDevice(r.Context(), auth.UserActor(ss.user, ss.sess), r.PathValue("id"), r.PathValue("device")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// riskDecisionJSON is one row of GET /api/v1/admin/risk-decisions.
type riskDecisionJSON struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	UserID   string    `json:"user_id"`
	Username string    `json:"username"`
	Action   string    `json:"action"`
	ClientIP string    `json:"client_ip"`
	Country  string    `json:"country,omitempty"`
	Score    int       `json:"score"`
	Decision string    `json:"decision"`
	Reasons  []string  `json:"reasons"`
	Factors  any       `json:"factors"`
}

// GET /api/v1/admin/risk-decisions?limit=N (admin, auditor)
func (s *Server) handleRiskDecisions(w http.ResponseWriter, r *http.Request, ss *session) {
	limit, err := queryLimit(r.URL.Query(), 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := s.Auth.RiskDecisions(r.Context(), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []riskDecisionJSON{}
	for _, d := range ds {
		out = append(out, riskDecisionJSON{ID: d.ID, At: d.At, UserID: d.UserID, Username: d.Username, Action: d.Action,
			ClientIP: d.ClientIP, Country: d.Country, Score: d.Score, Decision: string(d.Decision), Reasons: d.Reasons, Factors: d.Factors})
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": out})
}

// remoteAccess makes every signed-in request from outside the trusted
// networks need a session at AAL2: a session established inside at AAL1
// that later comes from outside must step up first. Signing in, stepping
// up, enrolling and signing out stay open so the user can get there.
func (s *Server) remoteAccess(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := sessionFrom(r)
		if ss == nil || ss.sess.State != auth.StateActive || ss.sess.Auth.AAL >= ordergate.AAL2 || remoteExempt(r.URL.Path) ||
			s.Auth.Policy.Trusted(s.ClientIP(r)) {
			next.ServeHTTP(w, r)
			return
		}
		s.Log.Info("remote access needs a second factor", "event", "remote.step_up", "user_id", ss.user.ID, "client_ip", s.ClientIP(r))
		s.writeError(w, r, &ordergate.Error{Code: ordergate.ESTEPUP, Message: "access from outside the trusted networks needs a second factor",
			Details: map[string]any{"required": map[string]any{"methods": []string{auth.MethodWebAuthn, auth.MethodTOTP}}, "reasons": []string{"remote_access"}}})
	})
}

// remoteExempt lists the paths an AAL1 session may use from outside: what
// it needs to reach AAL2 or leave.
func remoteExempt(path string) bool {
	for _, p := range []string{"/api/v1/login", "/api/v1/logout", "/api/v1/step-up", "/api/v1/me/factors", "/api/v1/me/backup-codes",
		"/api/v1/me/vouch", "/login", "/logout", "/enroll", "/static/", "/auth/verify", "/healthz", "/readyz"} {
		if path == p || strings.HasPrefix(path, p+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}
