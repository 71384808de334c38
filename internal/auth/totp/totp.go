// Package totp implements time-based one-time passwords (RFC 6238, on the
// HOTP core of RFC 4226) for authenticator apps: secret generation, codes,
// verification with a ±1 step window and replay refusal, otpauth:// URIs
// and their QR codes.
//
// Verify never accepts a time step at or below the last step the caller
// recorded, so each code is accepted at most once (NIST SP 800-63B
// §5.1.4.2). The caller must store the returned step atomically with the
// successful login, and must rate-limit attempts: a 6-digit code has about
// 20 bits of entropy.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
)

// Algorithm is the HMAC hash function, named as in otpauth:// URIs.
type Algorithm string

// Supported algorithms. SHA1 is what most authenticator apps support.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// Params describe how codes are made.
type Params struct {
	Algorithm Algorithm
	// Digits is the code length: 6 or 8.
	Digits int
	// Period is the time step, a whole number of seconds.
	Period time.Duration
}

// DefaultParams are what every authenticator app supports: SHA1, 6 digits,
// 30 seconds.
var DefaultParams = Params{Algorithm: SHA1, Digits: 6, Period: 30 * time.Second}

// SecretSize is the length in bytes of secrets from NewSecret: 160 bits, as
// RFC 4226 recommends.
const SecretSize = 20

// Window is how many steps either side of the current one Verify accepts,
// allowing for clock drift and typing time.
const Window = 1

// ErrInvalidParams is returned by Params.Validate.
var ErrInvalidParams = errors.New("totp: invalid parameters")

// Validate reports whether p is supported.
func (p Params) Validate() error {
	if p.newHash() == nil || (p.Digits != 6 && p.Digits != 8) ||
		p.Period < time.Second || p.Period%time.Second != 0 {
		return ErrInvalidParams
	}
	return nil
}

func (p Params) newHash() func() hash.Hash {
	switch p.Algorithm {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// NewSecret returns SecretSize random bytes from crypto/rand.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("totp: read random secret: %w", err)
	}
	return s, nil
}

// Step returns the RFC 6238 time step of t: floor(unix seconds / period).
func Step(t time.Time, p Params) int64 {
	period := int64(p.Period / time.Second)
	if period < 1 {
		period = 1
	}
	u := t.Unix()
	s := u / period
	if u < 0 && u%period != 0 {
		s--
	}
	return s
}

// Code returns the code for secret at time t, or "" when p is invalid.
func Code(secret []byte, t time.Time, p Params) string {
	if p.Validate() != nil {
		return ""
	}
	return hotp(secret, uint64(Step(t, p)), p)
}

// hotp is RFC 4226 §5.3: HMAC the big-endian counter, truncate dynamically,
// and keep the low decimal digits. p must be valid.
func hotp(secret []byte, counter uint64, p Params) string {
	mac := hmac.New(p.newHash(), secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range p.Digits {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", p.Digits-len(s)) + s
}

// ValidFormat reports whether code is exactly p.Digits ASCII digits, so a
// malformed code can be refused as bad input before any verification.
func ValidFormat(code string, p Params) bool {
	if len(code) != p.Digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// Verify reports whether code is valid for secret at time t within ±Window
// steps, refusing any step at or below lastUsedStep (pass 0 for a factor
// never used). On success it returns the matched step, which the caller must
// record as the new lastUsedStep in the same transaction that accepts the
// login. Should one code match more than one step, the latest is returned,
// so that the same code can never be accepted twice. Codes are compared in
// constant time and every candidate step is computed, match or not.
func Verify(secret []byte, code string, t time.Time, p Params, lastUsedStep int64) (step int64, ok bool) {
	if p.Validate() != nil || len(secret) == 0 || !ValidFormat(code, p) {
		return 0, false
	}
	now := Step(t, p)
	for s := now - Window; s <= now+Window; s++ {
		want := hotp(secret, uint64(s), p)
		match := subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1
		if match && s > lastUsedStep {
			step, ok = s, true
		}
	}
	return step, ok
}

// EncodeSecret returns secret as unpadded base32, the form authenticator
// apps and otpauth:// URIs use.
func EncodeSecret(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// URI returns the otpauth:// key URI for enrolling secret in an
// authenticator app, in the Google Authenticator key-URI format:
//
//	otpauth://totp/ordergate:alice?secret=...&issuer=ordergate&algorithm=SHA1&digits=6&period=30
//
// issuer and account are percent-encoded (a colon or space in either is
// escaped). The URI holds the secret: show it only to its owner, never log it.
func URI(issuer, account string, secret []byte, p Params) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(escape(issuer))
	b.WriteString(":")
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(EncodeSecret(secret))
	b.WriteString("&issuer=")
	b.WriteString(escape(issuer))
	b.WriteString("&algorithm=")
	b.WriteString(escape(string(p.Algorithm)))
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(p.Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.FormatInt(int64(p.Period/time.Second), 10))
	return b.String()
}

// escape percent-encodes s for a URI path segment or query value, with
// spaces as %20 rather than "+", which some authenticator apps show as is.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// QRPNG returns a 256×256 PNG QR code of uri (medium error correction).
// The error never contains uri, which holds the secret.
func QRPNG(uri string) ([]byte, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, 256)
	if err != nil {
		return nil, fmt.Errorf("totp: encode qr code: %w", err)
	}
	return png, nil
}
