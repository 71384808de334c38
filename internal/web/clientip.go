package web

import (
	"net/http"
	"strings"
)

// forwardedHops returns the client addresses a chain of proxies recorded,
// the nearest last: the for= parameters of the RFC 7239 Forwarded header
// when the request has one, else the X-Forwarded-For list. An element that
// is not an address ("unknown", an obfuscated name, a missing for=) stays
// in the list as written and stops ClientIP's walk there.
func forwardedHops(r *http.Request) []string {
	fwd := r.Header.Values("Forwarded")
	if len(fwd) == 0 {
		return strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	}
	var hops []string
	for _, elem := range splitQuoted(strings.Join(fwd, ","), ',') {
		hop := ""
		for _, pair := range splitQuoted(elem, ';') {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
				hop = forwardedNode(strings.TrimSpace(v))
			}
		}
		hops = append(hops, hop)
	}
	return hops
}

// forwardedNode turns a Forwarded for= value ("192.0.2.60",
// "\"[2001:db8::1]:4711\"", "\"198.51.100.17:8080\"") into an address
// without port or brackets; other values come back unchanged.
func forwardedNode(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
	}
	if strings.HasPrefix(v, "[") {
		if end := strings.IndexByte(v, ']'); end > 0 {
			return v[1:end]
		}
		return v
	}
	if host, _, ok := strings.Cut(v, ":"); ok && strings.Count(v, ":") == 1 {
		return host
	}
	return v
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
