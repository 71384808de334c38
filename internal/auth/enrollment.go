package auth

import (
	"context"
	"slices"
	"time"
)

// These read-only queries serve the browser pages, which have to show
// again, on each request, what a login answer said once.

// PendingTOTP shows an unconfirmed TOTP factor of u again (secret, URI and
// QR code), so an enrollment page can be reloaded or a wrong code retyped
// without starting over. It returns ENOTFOUND for a factor that is not u's
// or not TOTP, ECONFLICT once it is confirmed, and the errors of BeginTOTP
// for sessions that may not enroll.
func (s *Service) PendingTOTP(ctx context.Context, sess *Session, u *User, id string) (*TOTPEnrollment, error) {
	f, p, err := s.unconfirmedTOTP(ctx, sess, u, id)
	if err != nil {
		return nil, err
	}
	seed, err := s.openSecret(f)
	if err != nil {
		return nil, err
	}
	return totpEnrollment(f.ID, u.Username, seed, p)
}

// EnrollMethods returns the second factors u may enroll, strongest first:
// those the policy allows for u's roles, without backup codes, which come
// with the first factor.
func (s *Service) EnrollMethods(u *User) []string {
	return slices.DeleteFunc(s.allowedMethods(u), func(m string) bool { return m == MethodBackupCode })
}

// LoginMethods returns the second factors a pending login of u may finish
// with: the allowed methods u has enrolled, and backup codes while some are
// left. It matches the methods of the mfa_required login answer.
func (s *Service) LoginMethods(ctx context.Context, u *User) ([]string, error) {
	factors, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	enrolled := enrolledMethods(factors)
	left, err := s.Store.BackupCodesLeft(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range s.allowedMethods(u) {
		if slices.Contains(enrolled, m) || (m == MethodBackupCode && left > 0 && len(enrolled) > 0) {
			out = append(out, m)
		}
	}
	return out, nil
}

// EnrollmentDeadline returns the end of the grace period of the earliest
// rollout phase u still has to meet, or the zero time when there is none or
// it has passed (then sign-in asks for enrollment anyway).
func (s *Service) EnrollmentDeadline(ctx context.Context, u *User, ip string) (time.Time, error) {
	factors, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return time.Time{}, err
	}
	req := s.Policy.Require(u, ip, enrolledMethods(factors), s.Clock.Now())
	if !req.Reminder {
		return time.Time{}, nil
	}
	return req.Deadline, nil
}
