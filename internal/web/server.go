// Package web is ordergate's HTTP edge: the JSON API, the server-rendered
// pages, and the middleware that makes every route secure by default
// (security headers, body limits, sessions, CSRF, assurance checks).
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/config"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Pinger reports whether the database answers.
type Pinger interface {
	// Ping reports whether the database answers now.
	Ping(ctx context.Context) error
	// Unreachable reports whether err, an unexpected error from the
	// database, means that the database does not answer.
	Unreachable(ctx context.Context, err error) bool
}

// Server serves ordergate over HTTP.
type Server struct {
	Auth    *auth.Service
	DB      Pinger
	Metrics *Metrics
	Log     *slog.Logger
	Clock   ordergate.Clock
	// TrustedProxies may set X-Forwarded-For or Forwarded.
	TrustedProxies []netip.Prefix
	// DeviceKey signs the long-lived device cookie that tells a known
	// browser from a new one; empty turns the cookie off.
	DeviceKey []byte
	// ForwardAuth holds the rules of /auth/verify; nil refuses everything.
	ForwardAuth *ForwardAuth
	// Secure marks cookies Secure and sends HSTS (served over TLS).
	Secure bool
	// MaxBody limits request bodies, in bytes.
	MaxBody int64
	// IntakeCSVMaxBody limits CSV intake bodies, which are streamed, in
	// bytes; 0 means DefaultIntakeCSVMaxBody.
	IntakeCSVMaxBody int64

	// Chain verifies the audit log for POST /api/v1/admin/audit/verify;
	// nil answers 503.
	Chain *audit.Chain
	// Config is the configuration the administration policy view shows;
	// nil shows the policy of the auth service alone.
	Config *config.Config
	// PublicURL is the server's address as users reach it, for the
	// one-time links it hands out (invitations, password resets).
	PublicURL string

	// orders serves the order and intake endpoints; see EnableOrders.
	orders *orderAPI

	pages *template.Template
}

// NewServer returns a Server with its templates parsed.
func NewServer(a *auth.Service, db Pinger, m *Metrics, log *slog.Logger) *Server {
	m.CollectAdoption(a.Adoption)
	if a.Security == nil {
		a.Security = m
	}
	return &Server{Auth: a, DB: db, Metrics: m, Log: log, Clock: a.Clock, MaxBody: 1 << 20,
		pages: template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))}
}

// cookieName is the session cookie's name; the __Host- prefix, which
// browsers only accept over TLS, pins it to this host and path.
func (s *Server) cookieName() string {
	if s.Secure {
		return "__Host-ordergate_session"
	}
	return "ordergate_session"
}

func (s *Server) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

// securityHeaders sets the headers every answer carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.Secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(r))
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a logged 500.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeJSON(w, http.StatusInternalServerError, errorBody{Error: ordergate.EINTERNAL, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe records each request's time by route pattern.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.Metrics.Requests.WithLabelValues(route, string('0'+byte(rec.status/100))+"xx").Observe(time.Since(start).Seconds())
	})
}

// UnknownClient is ClientIP's answer when a trusted proxy did not say who
// its client was (RFC 7239's "unknown"). It is no address, so it is never
// inside the trusted networks: such a request counts as remote.
const UnknownClient = "unknown"

// ClientIP returns the client's address: the direct peer, or, when the
// peer is a trusted proxy, the right-most address in Forwarded (RFC 7239,
// preferred when present) or X-Forwarded-For that is not itself a trusted
// proxy. When a trusted proxy sends no forwarding header, or the walk
// meets an element that is no address ("unknown", an obfuscated name,
// garbage) before an untrusted address, it returns UnknownClient rather
// than the proxy's own, typically internal, address: a proxy that drops
// the header must not make remote clients look internal.
func (s *Server) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := forwardedHops(r)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return UnknownClient
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) client(r *http.Request) auth.Client {
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return auth.Client{IP: s.ClientIP(r), UserAgent: ua, DeviceID: s.deviceID(r)}
}

// session is what the session middleware found.
type session struct {
	sess *auth.Session
	user *auth.User
	// cookie is true when the session came from the cookie (CSRF applies).
	cookie bool
}

type sessionKey struct{}

func sessionFrom(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// token returns the session token from the Authorization header or the
// cookie, and whether it came from the cookie.
func (s *Server) token(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
		return "", false
	}
	if c, err := r.Cookie(s.cookieName()); err == nil {
		return c.Value, true
	}
	return "", false
}

// loadSession attaches the request's session, if any, to its context.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, cookie := s.token(r)
		if token == "" {
			next.ServeHTTP(w, r)
			return
		}
		sess, user, err := s.Auth.Authenticate(r.Context(), token)
		if err != nil {
			if ordergate.ErrorCode(err) != ordergate.EUNAUTHORIZED {
				s.writeError(w, r, err)
				return
			}
			if cookie {
				s.clearSessionCookie(w)
			}
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, &session{sess: sess, user: user, cookie: cookie})
		ctx = ordergate.WithActor(ctx, auth.UserActor(user, sess))
		r2 := r.WithContext(ctx)
		next.ServeHTTP(w, r2)
		// The mux records the matched route on the copy; hand it back so
		// observe labels the request with its route, not "unmatched".
		r.Pattern = r2.Pattern
	})
}

// csrf refuses state-changing requests that ride on the session cookie
// without the session's CSRF token (header X-CSRF-Token or form field
// csrf_token). Bearer requests carry no ambient credential and pass.
func (s *Server) csrf(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		ss := sessionFrom(r)
		if ss == nil || !ss.cookie {
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" && isForm(r) {
			got = r.PostFormValue("csrf_token")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(ss.sess.CSRFToken)) != 1 {
			s.Log.Warn("csrf token mismatch", "event", "csrf.refused", "user_id", ss.user.ID, "client_ip", s.ClientIP(r))
			s.writeError(w, r, ordergate.Errorf(ordergate.EFORBIDDEN, "missing or wrong CSRF token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

// requireSession wraps an API handler that needs a fully signed-in session.
// Pending and enrollment-only sessions get 401 / 403.
func (s *Server) requireSession(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := sessionFrom(r)
		if ss == nil {
			s.writeError(w, r, auth.ErrNoSession)
			return
		}
		if ss.sess.State != auth.StateActive {
			s.writeError(w, r, ordergate.Errorf(ordergate.EFORBIDDEN, "finish signing in first"))
			return
		}
		h(w, r, ss)
	}
}

// requireAPIJSON refuses form posts to the JSON API, so a cross-site form
// cannot reach it even without the CSRF check.
func (s *Server) requireAPIJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && isForm(r) {
			s.writeError(w, r, ordergate.Errorf(ordergate.EINVALID, "the API takes JSON, not forms"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
