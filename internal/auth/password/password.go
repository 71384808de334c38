// Package password hashes and verifies memorized secrets with argon2id and
// checks new passwords against the NIST SP 800-63B rules: a length range,
// no composition rules, and a blocklist of common and breached passwords.
//
// Hashes are PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64 no padding>$<hash, base64 no padding>
//
// Passwords are normalized to Unicode NFKC before hashing, as 800-63B
// recommends, so the same password typed on different keyboards verifies.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are the argon2id cost parameters and sizes. The zero value is not
// usable; start from DefaultParams.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over memory.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen is the salt length in bytes (at least 16).
	SaltLen uint32
	// KeyLen is the hash length in bytes (at least 16).
	KeyLen uint32
}

// DefaultParams are the OWASP minimum for argon2id: 19 MiB, 2 passes, one
// thread, a 16-byte salt and a 32-byte hash.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read from a stored hash, so that a corrupt or hostile
// row cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 64
	maxThreads = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// Sentinel errors returned by Hash and Verify. Neither carries the password
// or the stored hash.
var (
	// ErrMalformedHash means a stored hash is not an argon2id PHC string
	// this package can verify.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrInvalidParams means Params are outside the supported range.
	ErrInvalidParams = errors.New("password: invalid argon2id parameters")
)

// Validate reports whether p is usable for hashing.
func (p Params) Validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory,
		p.Time < 1 || p.Time > maxTime,
		p.Threads < 1 || p.Threads > maxThreads,
		p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen,
		p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return ErrInvalidParams
	}
	return nil
}

// Hash returns a PHC string of pw under p with a fresh random salt.
func (p Params) Hash(pw string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	key := idKey([]byte(norm.NFKC.String(pw)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether pw matches the PHC string phc, comparing in
// constant time. needsRehash is true when pw matches but phc was made with
// parameters other than p, so the caller should store p.Hash(pw). err is
// non-nil only when phc cannot be parsed (ErrMalformedHash).
func (p Params) Verify(pw, phc string) (ok, needsRehash bool, err error) {
	stored, salt, want, err := decodePHC(phc)
	if err != nil {
		return false, false, err
	}
	got := idKey([]byte(norm.NFKC.String(pw)), salt, stored.Time, stored.Memory, stored.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, stored != p, nil
}

// VerifyDummy spends the same time as Verify with p on a real hash and
// always fails. Call it when the user is unknown, so that response time does
// not reveal which usernames exist.
func (p Params) VerifyDummy(pw string) {
	if p.Validate() != nil {
		p = DefaultParams
	}
	salt := make([]byte, p.SaltLen)
	want := make([]byte, p.KeyLen)
	got := idKey([]byte(norm.NFKC.String(pw)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	subtle.ConstantTimeCompare(got, want)
}

// Hash returns a PHC string of pw under DefaultParams.
func Hash(pw string) (string, error) { return DefaultParams.Hash(pw) }

// Verify checks pw against phc; needsRehash is relative to DefaultParams.
// See Params.Verify.
func Verify(pw, phc string) (ok, needsRehash bool, err error) { return DefaultParams.Verify(pw, phc) }

// VerifyDummy costs as much as Verify under DefaultParams and always fails.
func VerifyDummy(pw string) { DefaultParams.VerifyDummy(pw) }

var b64 = base64.RawStdEncoding

// encodePHC formats an argon2id PHC string.
func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ParsePHC returns the parameters a PHC string was made with, so callers can
// report or migrate stored hashes. It returns ErrMalformedHash for anything
// but a well-formed argon2id v=19 string within the supported bounds.
func ParsePHC(phc string) (Params, error) {
	p, _, _, err := decodePHC(phc)
	return p, err
}

// decodePHC parses an argon2id PHC string. Errors never include phc.
func decodePHC(phc string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("unsupported argon2 version: %w", ErrMalformedHash)
	}
	var m, t, th uint64
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	for i, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		if !ok || name != [...]string{"m", "t", "p"}[i] {
			return Params{}, nil, nil, ErrMalformedHash
		}
		n, perr := strconv.ParseUint(val, 10, 32)
		if perr != nil {
			return Params{}, nil, nil, ErrMalformedHash
		}
		switch i {
		case 0:
			m = n
		case 1:
			t = n
		case 2:
			th = n
		}
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || th > maxThreads {
		return Params{}, nil, nil, ErrMalformedHash
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if p.Validate() != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
