package web

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// page is the data every template gets.
type page struct {
	Title string
	User  *auth.User
	Sess  *auth.Session
	CSRF  string
	Error string
	Data  any
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages.ExecuteTemplate(w, name, p); err != nil {
		s.Log.Error("render", "template", name, "err", err)
	}
}

// preCSRF is the double-submit token that protects the login form itself,
// before any session exists.
const preCSRFCookie = "ordergate_login_csrf"

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: token, Path: "/login", HttpOnly: true,
		Secure: s.Secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.render(w, status, "login.html", page{Title: "Sign in", CSRF: token, Error: msg, Data: s.loginData()})
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(preCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf_token"))) != 1 {
		s.renderLogin(w, r, http.StatusForbidden, "Your sign-in form expired. Please try again.")
		return
	}
	res, err := s.login(r, r.PostFormValue("username"), r.PostFormValue("password"))
	if err != nil {
		msg := "Wrong username or password."
		status := http.StatusUnauthorized
		switch ordergate.ErrorCode(err) {
		case ordergate.ERATELIMIT:
			msg, status = "Too many attempts. Please wait a while and try again.", http.StatusTooManyRequests
		case ordergate.EDENIED:
			msg, status = "Sign-in denied from here. Contact your administrator.", http.StatusForbidden
		case ordergate.ECREDENTIALS:
		default:
			status, msg = s.pageError(r, err)
		}
		s.renderLogin(w, r, status, msg)
		return
	}
	s.setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	s.setDeviceCookie(w, r, res)
	http.Redirect(w, r, signInNext(res.State), http.StatusSeeOther)
}

func (s *Server) handleLogoutForm(w http.ResponseWriter, r *http.Request) {
	if ss := sessionFrom(r); ss != nil {
		if err := s.Auth.Logout(r.Context(), ss.sess, ss.user); err != nil {
			s.Log.Error("logout", "err", err)
		}
	}
	s.clearSessionCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	ss := sessionFrom(r)
	if ss == nil || ss.sess.State != auth.StateActive {
		s.continueSignIn(w, r, ss)
		return
	}
	s.render(w, http.StatusOK, "home.html", page{Title: "ordergate", User: ss.user, Sess: ss.sess, CSRF: ss.sess.CSRFToken,
		Data: s.homeData(r, ss)})
}
