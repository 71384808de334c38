package auth

import (
	"context"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth/hotp"
)

// factorMethod is the method a factor type proves: a hardware HOTP token
// is used like an authenticator app, so it counts as totp for policy,
// adoption and sign-in.
func factorMethod(typ string) string {
	if typ == MethodHOTP {
		return MethodTOTP
	}
	return typ
}

// verifyHOTP tries code against each of factors that is a confirmed
// hardware HOTP token, within the look-ahead window, and records the
// matched counter with the same conditional update as a TOTP step, so a
// counter is accepted once across every process. It returns nil, nil when
// no token takes the code.
func (s *Service) verifyHOTP(ctx context.Context, factors []*Factor, code string, now time.Time) (*VerifyResult, error) {
	for _, f := range factors {
		if f.Type != MethodHOTP || !f.Confirmed {
			continue
		}
		p, err := hotpParams(f.Params)
		if err != nil {
			return nil, err
		}
		seed, err := s.openSecret(f)
		if err != nil {
			return nil, err
		}
		counter, ok := hotp.Verify(seed, code, f.LastUsedStep, p)
		clear(seed)
		if !ok {
			continue
		}
		fresh, err := s.Store.UseTOTPStep(ctx, f.ID, counter, now)
		if err != nil {
			return nil, err
		}
		if fresh {
			return &VerifyResult{Method: MethodTOTP, AMR: ordergate.AMROTP, FactorID: f.ID}, nil
		}
	}
	return nil, nil
}
