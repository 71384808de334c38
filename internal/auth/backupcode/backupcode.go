// Package backupcode makes and checks look-up secrets (recovery codes) as
// NIST SP 800-63B §5.1.2 describes them.
//
// A code is 10 characters of Crockford base32, 50 random bits from
// crypto/rand, shown as two groups of five ("7k3qx-m9d2a"). Users may type
// it in any case, with or without dashes and spaces, and with the usual
// confusions (O for 0, I or L for 1).
//
// Codes have fewer than 112 bits, so they are stored salted and hashed with
// a KDF: argon2id with Params (8 MiB, 1 pass, 1 thread), lighter than
// passwords because a code has far more entropy than a typical password.
// Next to each hash a short, non-secret lookup (the first LookupLen
// characters, 10 bits) lets the caller fetch the one candidate row instead
// of running the KDF on every unused code; the 40 bits left are what an
// offline attacker would have to guess, at the KDF's cost each.
//
// The caller must mark a code used in the same transaction that accepts it,
// and must rate-limit attempts.
package backupcode

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ordergate/ordergate/internal/auth/password"
)

// alphabet is Crockford's base32: digits and letters without i, l, o, u.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// Sizes and limits.
const (
	// Length is the number of characters in a code, without the dash.
	Length = 10
	// DefaultCount is how many codes Generate makes when asked for 0.
	DefaultCount = 10
	// MaxCount is the most codes Generate makes at once.
	MaxCount = 100
	// LookupLen is how many leading characters of a code form its lookup.
	LookupLen = 2
)

// Params are the argon2id parameters for code hashes: 8 MiB, one pass, one
// thread, a 16-byte salt and a 32-byte hash (about 10 ms here).
var Params = password.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Sentinel errors.
var (
	// ErrInvalidCode means Hash was given something that is not a code.
	ErrInvalidCode = errors.New("backupcode: not a valid code")
	// ErrCount means Generate was asked for a negative or too large count.
	ErrCount = errors.New("backupcode: count out of range")
)

// Generate returns n distinct codes formatted "xxxxx-xxxxx", or
// DefaultCount codes when n is 0.
func Generate(n int) ([]string, error) {
	return generate(rand.Reader, n)
}

func generate(r io.Reader, n int) ([]string, error) {
	if n == 0 {
		n = DefaultCount
	}
	if n < 0 || n > MaxCount {
		return nil, ErrCount
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	buf := make([]byte, Length)
	for len(codes) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("backupcode: read random: %w", err)
		}
		// 256 is a multiple of 32, so the low five bits are uniform.
		for i, b := range buf {
			buf[i] = alphabet[b&31]
		}
		c := string(buf[:5]) + "-" + string(buf[5:])
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	clear(buf)
	return codes, nil
}

// Normalize returns the canonical form of a typed code: Length lower-case
// Crockford characters without separators. It ignores case, dashes and
// whitespace and reads o as 0 and i or l as 1. ok is false when input is
// not a code.
func Normalize(input string) (code string, ok bool) {
	var b strings.Builder
	b.Grow(Length)
	for _, r := range input {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0':
			continue
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		switch r {
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		if r > 0x7f || strings.IndexByte(alphabet, byte(r)) < 0 || b.Len() == Length {
			return "", false
		}
		b.WriteByte(byte(r))
	}
	if b.Len() != Length {
		return "", false
	}
	return b.String(), true
}

// Lookup returns the non-secret index of a typed code (its first LookupLen
// canonical characters), to find candidate rows. ok is false when input is
// not a code.
func Lookup(input string) (lookup string, ok bool) {
	c, ok := Normalize(input)
	if !ok {
		return "", false
	}
	return c[:LookupLen], true
}

// Hash returns what to store for code: its lookup and a salted argon2id
// PHC string of its canonical form. It returns ErrInvalidCode when code is
// not a code; errors never contain the code.
func Hash(code string) (lookup, phc string, err error) {
	c, ok := Normalize(code)
	if !ok {
		return "", "", ErrInvalidCode
	}
	phc, err = Params.Hash(c)
	if err != nil {
		return "", "", fmt.Errorf("backupcode: hash: %w", err)
	}
	return c[:LookupLen], phc, nil
}

// Verify reports whether the typed code matches the stored phc. A malformed
// code or hash is simply not a match.
func Verify(code, phc string) bool {
	c, ok := Normalize(code)
	if !ok {
		return false
	}
	match, _, err := Params.Verify(c, phc)
	return err == nil && match
}
