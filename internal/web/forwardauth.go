package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// What a forward-auth rule requires.
const (
	RequireBypass            = "bypass"
	RequireOneFactor         = "one_factor"
	RequireTwoFactor         = "two_factor"
	RequirePhishingResistant = "phishing_resistant"
	RequireDeny              = "deny"
)

// ForwardRule is one forward-auth rule; the first that matches the
// original host and path decides.
type ForwardRule struct {
	// Host is a host name ("legacy.example.com") or a wildcard for its
	// subdomains ("*.example.com"); empty matches every host.
	Host string
	// Path is a glob: "*" matches any run of characters, "/" included;
	// empty matches every path.
	Path string
	// Require is one of the Require* values.
	Require string
	// Roles, when not empty, lists the roles of which the user needs one.
	Roles []string
}

// ForwardAuth configures GET /auth/verify.
type ForwardAuth struct {
	Rules []ForwardRule
	// AllowedRedirectDomains are the hosts (and their subdomains) a browser
	// may be sent back to after signing in.
	AllowedRedirectDomains []string
	// LoginURL is the sign-in page's absolute URL.
	LoginURL string
}

// match returns the first rule for host and path, or nil.
func (fa *ForwardAuth) match(host, path string) *ForwardRule {
	if fa == nil {
		return nil
	}
	host = strings.ToLower(host)
	for i := range fa.Rules {
		r := &fa.Rules[i]
		if hostMatch(r.Host, host) && (r.Path == "" || globMatch(r.Path, path)) {
			return r
		}
	}
	return nil
}

func hostMatch(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	switch {
	case pattern == "":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:])
	default:
		return host == pattern
	}
}

// globMatch matches s against pattern, where '*' stands for any run of
// characters (slashes included) and everything else is literal.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// AllowedRedirect reports whether u may be a post-login destination: an
// absolute http(s) URL on an allowed domain, without user information.
func (fa *ForwardAuth) AllowedRedirect(u *url.URL) bool {
	if fa == nil || u == nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range fa.AllowedRedirectDomains {
		d = strings.ToLower(strings.TrimPrefix(d, "*."))
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// originalURL is the URL the proxy is asking about, from X-Original-URL
// (nginx) or X-Forwarded-Proto/-Host/-Uri (Traefik, and nginx set up so).
func originalURL(r *http.Request) (*url.URL, bool) {
	if v := r.Header.Get("X-Original-URL"); v != "" {
		u, err := url.Parse(v)
		return u, err == nil && u.Host != ""
	}
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" {
		return nil, false
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto != "https" {
		proto = "http"
	}
	uri := r.Header.Get("X-Forwarded-Uri")
	if uri == "" || uri[0] != '/' {
		uri = "/" + uri
	}
	u, err := url.Parse(proto + "://" + host + uri)
	return u, err == nil && u.Host != ""
}

// verdict is a forward-auth answer and why.
type verdict struct {
	ok     bool
	reason string
}

// forwardVerdict decides whether the session ss may reach u.
func (s *Server) forwardVerdict(r *http.Request, ss *session, u *url.URL) (verdict, *ForwardRule) {
	rule := s.ForwardAuth.match(u.Hostname(), u.EscapedPath())
	if rule == nil {
		return verdict{reason: "no_rule"}, nil
	}
	require := rule.Require
	switch require {
	case RequireBypass:
		return verdict{ok: true, reason: "bypass"}, rule
	case RequireDeny:
		return verdict{reason: "deny_rule"}, rule
	}
	if ss == nil || ss.sess.State != auth.StateActive {
		return verdict{reason: "no_session"}, rule
	}
	if require == RequireOneFactor && !s.Auth.Policy.Trusted(s.ClientIP(r)) {
		require = RequireTwoFactor // remote access always needs two factors
	}
	ac := ss.sess.Auth
	switch require {
	case RequireOneFactor:
	case RequireTwoFactor:
		if ac.AAL < ordergate.AAL2 {
			return verdict{reason: "needs_two_factor"}, rule
		}
	case RequirePhishingResistant:
		if ac.AAL < ordergate.AAL2 || !slices.ContainsFunc(ac.AMR, func(m string) bool { return m == ordergate.AMRHardware || m == ordergate.AMRSoftware }) {
			return verdict{reason: "needs_phishing_resistant"}, rule
		}
	default:
		return verdict{reason: "unknown_requirement"}, rule
	}
	if len(rule.Roles) > 0 && !slices.ContainsFunc(ss.user.Roles, func(role string) bool { return slices.Contains(rule.Roles, role) }) {
		return verdict{reason: "missing_role"}, rule
	}
	return verdict{ok: true, reason: require}, rule
}

// handleVerify is GET /auth/verify for nginx auth_request and Traefik
// forwardAuth: 200 with the user's headers when the request's session
// satisfies the rule for the original host and path, 401 otherwise. A
// browser that could sign in is told where: X-Ordergate-Redirect on the
// 401 (nginx: error_page 401 with auth_request_set), or a 302 to the
// login page when called with ?redirect=true (Traefik passes it on).
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ss := sessionFrom(r)
	u, ok := originalURL(r)
	v := verdict{reason: "no_original_url"}
	if ok {
		v, _ = s.forwardVerdict(r, ss, u)
	}
	if s.Metrics != nil {
		s.Metrics.forwardAuth(v.ok, v.reason)
	}
	if v.ok {
		if ss != nil && ss.sess.State == auth.StateActive {
			w.Header().Set("X-Ordergate-User", ss.user.Username)
			w.Header().Set("X-Ordergate-Roles", strings.Join(ss.user.Roles, ","))
			w.Header().Set("X-Ordergate-AAL", strconv.Itoa(int(ss.sess.Auth.AAL)))
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	fields := []any{"event", "forward_auth.denied", "reason", v.reason, "client_ip", s.ClientIP(r)}
	if ss != nil {
		fields = append(fields, "user_id", ss.user.ID)
	}
	if u != nil {
		fields = append(fields, "host", u.Hostname(), "path", u.EscapedPath())
	}
	s.Log.Info("forward auth refused", fields...)
	s.forwardAuthSecurityEvent(r, ss, u, v.reason)
	if ok && v.reason != "no_rule" && v.reason != "deny_rule" && v.reason != "missing_role" && s.ForwardAuth.AllowedRedirect(u) && s.ForwardAuth.LoginURL != "" {
		login := s.ForwardAuth.LoginURL + "?rd=" + url.QueryEscape(u.String())
		w.Header().Set("X-Ordergate-Redirect", login)
		if r.URL.Query().Get("redirect") == "true" && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, login, http.StatusFound)
			return
		}
	}
	w.Header().Set("WWW-Authenticate", `Cookie realm="ordergate"`)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// returnCookie holds, for a short while, where to send a browser once it
// has signed in (the rd parameter of /login, checked against the allowed
// redirect domains).
const returnCookie = "ordergate_return"

// returnTo remembers GET /login?rd=URL for an allowed URL and, once the
// browser reaches the home page signed in, sends it there instead. Any
// other rd is ignored: never an open redirect.
func (s *Server) returnTo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || s.ForwardAuth == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/login":
			if rd := r.URL.Query().Get("rd"); rd != "" {
				if u, err := url.Parse(rd); err == nil && s.ForwardAuth.AllowedRedirect(u) {
					http.SetCookie(w, &http.Cookie{Name: returnCookie, Value: url.QueryEscape(u.String()), Path: "/", MaxAge: 900,
						HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
				}
			}
		case "/":
			ss := sessionFrom(r)
			c, err := r.Cookie(returnCookie)
			if err != nil || ss == nil || ss.sess.State != auth.StateActive {
				break
			}
			http.SetCookie(w, &http.Cookie{Name: returnCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
			raw, _ := url.QueryUnescape(c.Value)
			if u, err := url.Parse(raw); err == nil && s.ForwardAuth.AllowedRedirect(u) {
				if v, _ := s.forwardVerdict(r, ss, u); v.ok {
					http.Redirect(w, r, u.String(), http.StatusSeeOther)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
