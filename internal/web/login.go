package web

import (
	"net/http"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// loginAnswer is the JSON of every login step's success.
type loginAnswer struct {
	State        string   `json:"state"`
	SessionToken string   `json:"session_token"`
	AAL          int      `json:"aal,omitempty"`
	Methods      []string `json:"methods,omitempty"`
	Reasons      []string `json:"reasons,omitempty"`
	Deadline     string   `json:"deadline,omitempty"`
	// PostponesLeft is set when an enrollment may still be put off.
	PostponesLeft *int `json:"postpones_left,omitempty"`
}

func answerFor(res *auth.LoginResult) loginAnswer {
	a := loginAnswer{State: res.State, SessionToken: res.Token, Methods: res.Methods, Reasons: res.Reasons}
	if res.State == auth.LoginAuthenticated {
		a.AAL = int(res.Session.Auth.AAL)
	}
	if !res.Deadline.IsZero() {
		a.Deadline = res.Deadline.Format(time.RFC3339)
	}
	if res.State == auth.LoginEnrollmentRequired && res.PostponesLeft > 0 {
		left := res.PostponesLeft
		a.PostponesLeft = &left
	}
	return a
}

// login runs the password step and records its time and outcome.
func (s *Server) login(r *http.Request, username, password string) (*auth.LoginResult, error) {
	start := time.Now()
	res, err := s.Auth.Login(r.Context(), username, password, s.client(r))
	outcome := "ok"
	if err != nil {
		outcome = ordergate.ErrorCode(err)
	}
	s.Metrics.LoginStep.WithLabelValues("password", outcome).Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		s.Metrics.Logins.WithLabelValues(outcome).Inc()
	case res.State == auth.LoginAuthenticated:
		s.Metrics.Logins.WithLabelValues("authenticated").Inc()
	}
	return res, err
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fields := map[string]string{}
	if req.Username == "" {
		fields["username"] = "required"
	}
	if req.Password == "" {
		fields["password"] = "required"
	}
	if len(fields) > 0 {
		s.writeError(w, r, &ordergate.Error{Code: ordergate.EINVALID, Message: "username and password are required", Fields: fields})
		return
	}
	res, err := s.login(r, req.Username, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	s.setDeviceCookie(w, r, res)
	writeJSON(w, http.StatusOK, answerFor(res))
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if ss := sessionFrom(r); ss != nil {
		if err := s.Auth.Logout(r.Context(), ss.sess, ss.user); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// sessionAnswer is GET /api/v1/session.
type sessionAnswer struct {
	User struct {
		ID       string   `json:"id"`
		Username string   `json:"username"`
		Roles    []string `json:"roles"`
	} `json:"user"`
	State           string               `json:"state"`
	AAL             int                  `json:"aal"`
	AMR             []string             `json:"amr"`
	AuthTime        time.Time            `json:"auth_time"`
	FactorTimes     map[string]time.Time `json:"factor_times"`
	ExpiresAt       time.Time            `json:"expires_at"`
	CSRFToken       string               `json:"csrf_token"`
	FactorsEnrolled int                  `json:"factors_enrolled"`
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request, ss *session) {
	var a sessionAnswer
	a.User.ID, a.User.Username, a.User.Roles = ss.user.ID, ss.user.Username, ss.user.Roles
	a.State, a.AAL, a.AMR, a.AuthTime = string(ss.sess.State), int(ss.sess.Auth.AAL), ss.sess.Auth.AMR, ss.sess.Auth.AuthTime
	a.FactorTimes, a.ExpiresAt, a.CSRFToken = ss.sess.Auth.FactorTimes, ss.sess.ExpiresAt, ss.sess.CSRFToken
	fs, err := s.Auth.Store.Factors(r.Context(), ss.user.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, f := range fs {
		if f.Confirmed {
			a.FactorsEnrolled++
		}
	}
	writeJSON(w, http.StatusOK, a)
}
