package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth/sms"
)

// userPhone normalises the phone number an administrator gives a new user
// to E.164 with the sms package's rules, so that the number vouching and
// notifications text is the one a later SMS enrollment compares with. An
// empty number stays empty; a malformed one gives EINVALID naming
// "phone" with the normaliser's explanation.
func userPhone(phone string) (string, error) {
	if strings.TrimSpace(phone) == "" {
		return "", nil
	}
	e164, err := sms.Normalize(phone, "")
	if err != nil {
		problem := "not a valid mobile number; use the international form, e.g. +14155550100"
		var e *ordergate.Error
		if errors.As(err, &e) && e.Fields["phone"] != "" {
			problem = e.Fields["phone"]
		}
		return "", ordergate.FieldError(ordergate.EINVALID, "phone", problem)
	}
	return e164, nil
}

// VouchPhone returns u's pre-registered phone number, masked, when sess
// must still prove it with a texted code before enrolling a first factor
// (see SendVouchSMS and VouchSMS), and "" when no such proof is needed.
// Pages use it to lead the user to the phone check before the enrollment
// step would refuse with the vouch error.
func (s *Service) VouchPhone(ctx context.Context, sess *Session, u *User) (string, error) {
	need, err := s.vouchRequired(ctx, sess, u)
	if err != nil || !need {
		return "", err
	}
	return sms.Mask(u.Phone), nil
}

// SMSEnabled reports whether this server can text codes at all (a
// provider is configured); the policy decides who may use them.
func (s *Service) SMSEnabled() bool { return s.smsOn() }
