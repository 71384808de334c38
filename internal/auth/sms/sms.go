// Package sms holds the pieces of SMS one-time codes that need no storage
// or network: code generation, their keyed hash, phone number validation
// and normalisation to E.164, and the message text. SMS is a restricted
// authenticator (NIST SP 800-63B §5.1.3.3): ordergate offers it as a
// fallback only, and the auth package enforces the rules around it.
package sms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/ordergate/ordergate"
)

// Digits is the length of a code; TTL is how long a code stays valid.
const (
	Digits = 6
	TTL    = 5 * time.Minute
)

// NewCode returns a new code of Digits decimal digits from crypto/rand
// (about 20 bits, which NIST accepts for out-of-band secrets when
// verification is rate limited).
func NewCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("sms code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// ValidFormat reports whether code is Digits decimal digits.
func ValidFormat(code string) bool {
	if len(code) != Digits {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Hash returns the stored form of code for the challenge id: HMAC-SHA-256
// under a server key. The key (derived from the master key, never in the
// database) keeps a stolen database from giving the codes away with a
// million guesses; binding the id stops a hash from being moved to
// another challenge.
func Hash(key []byte, id, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// Equal compares a code against a stored hash in constant time.
func Equal(key []byte, id, code, stored string) bool {
	return hmac.Equal([]byte(Hash(key, id, code)), []byte(stored))
}

// Normalize validates phone and returns it in E.164 form (+14155550100).
// Numbers without a leading + are read in defaultRegion (an ISO 3166
// alpha-2 code; "" requires the + form). A malformed or impossible number,
// or one the numbering plan marks as a landline, VoIP, premium or shared-cost (NIST
// SP 800-63B rev 3: no VoIP for out-of-band codes), gives EUNPROCESSABLE
// naming "phone".
func Normalize(phone, defaultRegion string) (string, error) {
	phone = strings.TrimSpace(phone)
	if phone == "" {
		return "", ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "a phone number is required")
	}
	if len(phone) > 32 {
		return "", ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "too long for a phone number")
	}
	region := strings.ToUpper(defaultRegion)
	if region == "" {
		region = "ZZ"
	}
	num, err := phonenumbers.Parse(phone, region)
	if err != nil {
		return "", ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "not a phone number; use the international form, e.g. +14155550100")
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "not a valid number for its country")
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.FIXED_LINE:
		return "", ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "a landline cannot receive text messages; use a mobile number")
	case phonenumbers.VOIP, phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.TOLL_FREE, phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL:
		return "", ordergate.FieldError(ordergate.EUNPROCESSABLE, "phone", "this kind of number cannot receive sign-in codes; use a mobile number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// Mask shows enough of an E.164 number to recognise it, for messages and
// audit records: "+1415•••0100".
func Mask(e164 string) string {
	if len(e164) < 8 {
		return "•••"
	}
	return e164[:len(e164)-7] + "•••" + e164[len(e164)-4:]
}

// Message is the text of a code message. The last line follows the
// origin-bound one-time code format (WebOTP), so browsers fill the code in
// only on host; host may be empty.
func Message(code, host string) string {
	msg := "Your ordergate code is " + code + ". It expires in 5 minutes. Never share it: ordergate staff will not ask for it."
	if host != "" {
		msg += "\n\n@" + host + " #" + code
	}
	return msg
}
