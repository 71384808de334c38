package config

import (
	"fmt"
	"net/url"
	"slices"
)

// validate checks the sms section; its errors name the key at fault.
func (s *SMS) validate() error {
	if err := roles("sms.forbidden_roles", s.ForbiddenRoles, false); err != nil {
		return err
	}
	for i, l := range s.SendLimits {
		if l.Max < 1 || l.Window.Duration <= 0 {
			return fmt.Errorf("config: sms.send_limits[%d]: want max >= 1 and a window such as 15m", i)
		}
	}
	for _, u := range []struct{ key, val string }{
		{"sms.twilio.base_url", s.Twilio.BaseURL}, {"sms.twilio.lookup_base_url", s.Twilio.LookupBaseURL},
	} {
		p, err := url.Parse(u.val)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("config: %s: %q is not an http(s) URL", u.key, u.val)
		}
	}
	if s.Provider == "twilio" {
		for _, k := range []struct{ key, val string }{
			{"sms.twilio.account_sid", s.Twilio.AccountSID}, {"sms.twilio.auth_token", s.Twilio.AuthToken}, {"sms.twilio.from", s.Twilio.From},
		} {
			if k.val == "" {
				return fmt.Errorf("config: %s: required when sms.provider is twilio", k.key)
			}
		}
	}
	if s.SIMSwap.Enabled && s.Provider != "twilio" {
		return fmt.Errorf("config: sms.sim_swap.enabled: needs sms.provider twilio")
	}
	if s.SIMSwap.Days < 1 || s.SIMSwap.Days > 365 {
		return fmt.Errorf("config: sms.sim_swap.days: want 1 to 365, got %d", s.SIMSwap.Days)
	}
	return nil
}

// validateRestricted refuses rollout phases that would make SMS, a
// restricted authenticator, the only second factor (NIST SP 800-63B
// §5.2.10): a phase naming sms must name totp or webauthn too.
func validateRestricted(rollout []Rollout) error {
	for i, r := range rollout {
		if slices.Contains(r.Methods, "sms") && !slices.Contains(r.Methods, "totp") && !slices.Contains(r.Methods, "webauthn") {
			return fmt.Errorf("config: mfa.rollout[%d].methods: sms is a restricted authenticator; list totp or webauthn beside it", i)
		}
	}
	return nil
}
