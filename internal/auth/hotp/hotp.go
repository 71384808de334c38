// Package hotp implements event-based one-time passwords (RFC 4226) for
// hardware OATH tokens: a look-ahead window over the token's counter,
// resynchronisation from two consecutive codes, and replay refusal.
//
// The counter the server keeps is the last counter it accepted (-1 for a
// token never used whose first code is counter 0). Verify and Resync never
// accept a counter at or below it, so each code is accepted at most once
// (NIST SP 800-63B §5.1.4.2). The caller must record the returned counter
// atomically, with a conditional update that refuses to move it
// backwards, and must rate-limit attempts: a 6-digit code has about 20
// bits of entropy.
package hotp

import (
	"crypto/subtle"
	"math"

	"github.com/ordergate/ordergate/internal/auth/totp"
)

// Window is how many counters after the last accepted one Verify tries:
// a token pressed without signing in moves ahead of the server (RFC 4226
// §7.4, the look-ahead parameter s).
const Window = 10

// ResyncWindow is how many counters Resync tries. It is wider than Window
// because two consecutive codes must both match, so a guess succeeds with
// probability about ResyncWindow/10^(2·digits).
const ResyncWindow = 100

// Params describe how a token makes codes: the HMAC hash (SHA1 in RFC
// 4226) and 6 or 8 digits.
type Params struct {
	Algorithm totp.Algorithm
	Digits    int
}

// DefaultParams are RFC 4226's: HMAC-SHA1 and 6 digits.
var DefaultParams = Params{Algorithm: totp.SHA1, Digits: 6}

// Validate reports whether p is supported; it returns totp.ErrInvalidParams
// when not.
func (p Params) Validate() error {
	return p.core().Validate()
}

// core is p as the totp package's parameters; the period is unused but
// must be valid.
func (p Params) core() totp.Params {
	return totp.Params{Algorithm: p.Algorithm, Digits: p.Digits, Period: totp.DefaultParams.Period}
}

// Code returns the code for secret at counter, or "" when p is invalid.
func Code(secret []byte, counter uint64, p Params) string {
	if p.Validate() != nil {
		return ""
	}
	return totp.CounterCode(secret, counter, p.core())
}

// Verify reports whether code matches one of the Window counters after
// lastUsed (pass -1 for a token whose next code is counter 0). On success
// it returns the matched counter, the lowest when several match, which
// the caller must record as the new lastUsed. Codes are compared in
// constant time and every candidate is computed, match or not.
func Verify(secret []byte, code string, lastUsed int64, p Params) (counter int64, ok bool) {
	return search(secret, code, "", lastUsed, Window, p)
}

// Resync finds a token that has moved further ahead than Window: it
// reports whether code1 and code2 are the codes of two consecutive
// counters among the ResyncWindow after lastUsed, and returns the counter
// of code2, which the caller must record as the new lastUsed.
func Resync(secret []byte, code1, code2 string, lastUsed int64, p Params) (counter int64, ok bool) {
	if code2 == "" {
		return 0, false
	}
	c, ok := search(secret, code1, code2, lastUsed, ResyncWindow, p)
	if !ok {
		return 0, false
	}
	return c + 1, true
}

// search returns the lowest counter c in (lastUsed, lastUsed+n] whose code
// is code and, when next is not empty, whose successor's code is next.
func search(secret []byte, code, next string, lastUsed int64, n int, p Params) (int64, bool) {
	if p.Validate() != nil || len(secret) == 0 || lastUsed < -1 || lastUsed > math.MaxInt64-int64(n)-1 ||
		!totp.ValidFormat(code, p.core()) || (next != "" && !totp.ValidFormat(next, p.core())) {
		return 0, false
	}
	var found int64
	ok := false
	want := totp.CounterCode(secret, uint64(lastUsed+1), p.core())
	for c := lastUsed + 1; c <= lastUsed+int64(n); c++ {
		following := totp.CounterCode(secret, uint64(c+1), p.core())
		match := subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1
		if next != "" {
			match = match && subtle.ConstantTimeCompare([]byte(following), []byte(next)) == 1
		}
		if match && !ok {
			found, ok = c, true
		}
		want = following
	}
	return found, ok
}
