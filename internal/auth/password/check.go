package password

import (
	_ "embed"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ordergate/ordergate"
)

// Length limits, in Unicode code points after NFKC normalization. NIST SP
// 800-63B requires at least 8 and allowing at least 64.
const (
	MinLength = 8
	MaxLength = 256
)

// Reasons Check puts in Error.Fields["password"]. They are safe to show and
// never contain the password.
const (
	ReasonTooShort   = "must be at least 8 characters"
	ReasonTooLong    = "must be at most 256 characters"
	ReasonCommon     = "is too common: it appears in lists of breached passwords"
	ReasonRepetitive = "must not be a single repeated or sequential run of characters"
	ReasonUsername   = "must not be the username"
	ReasonContext    = "must not be the name of this service"
)

// serviceNames are context-specific words 800-63B asks verifiers to refuse.
var serviceNames = []string{"ordergate"}

// Check returns nil when pw is acceptable as a new password for username,
// and otherwise an *ordergate.Error with code EINVALID and
// Fields{"password": reason}, where reason is one of the Reason constants.
// Following NIST SP 800-63B it imposes no composition rules: it checks the
// length after NFKC normalization, the embedded list of common passwords
// (exactly and ignoring case), trivially repetitive or sequential strings,
// the username and the service name.
func Check(pw, username string) error {
	n := norm.NFKC.String(pw)
	switch length := utf8.RuneCountInString(n); {
	case length < MinLength:
		return reject(ReasonTooShort)
	case length > MaxLength:
		return reject(ReasonTooLong)
	}
	lower := strings.ToLower(n)
	if u := strings.ToLower(norm.NFKC.String(strings.TrimSpace(username))); u != "" && lower == u {
		return reject(ReasonUsername)
	}
	for _, s := range serviceNames {
		if lower == s {
			return reject(ReasonContext)
		}
	}
	if common(n) || common(lower) {
		return reject(ReasonCommon)
	}
	if monotone(n) {
		return reject(ReasonRepetitive)
	}
	return nil
}

func reject(reason string) error {
	return ordergate.FieldError(ordergate.EINVALID, "password", reason)
}

// commonList holds the common passwords long enough to pass the length
// check, lower-cased, sorted bytewise, one per line: the entries of 8 or
// more characters of zxcvbn's "passwords" list (from the Xato corpus of
// leaked passwords; see NOTICE). It is searched where it lies in the
// binary's read-only data, so it costs no memory until a password is
// checked, and then only the few pages a search touches.
//
//go:embed common.txt
var commonList string

// common reports whether s is a line of commonList, by binary search over
// the byte offsets of the list: each probe reads the line around the
// middle of the range left.
func common(s string) bool {
	lo, hi := 0, len(commonList) // both at the start of a line (or the end)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + strings.LastIndexByte(commonList[lo:mid], '\n') + 1
		end := start + strings.IndexByte(commonList[start:], '\n')
		switch c := strings.Compare(s, commonList[start:end]); {
		case c == 0:
			return true
		case c < 0:
			hi = start
		default:
			lo = end + 1
		}
	}
	return false
}

// monotone reports whether s is one character repeated or a run whose code
// points all step by the same +1 or -1 ("aaaaaaaa", "abcdefgh", "87654321").
func monotone(s string) bool {
	r := []rune(s)
	if len(r) < 2 {
		return true
	}
	step := r[1] - r[0]
	if step < -1 || step > 1 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if r[i]-r[i-1] != step {
			return false
		}
	}
	return true
}
