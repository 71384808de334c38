package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// validateRisk checks the risk, remember_device and forward_auth keys
// beyond their types.
func (c *Config) validateRisk() error {
	if c.Risk.ImpossibleTravelKMH <= 0 {
		return fmt.Errorf("config: risk.impossible_travel_kmh: must be a positive speed")
	}
	d := c.RememberDevice
	if d.Days < 0 {
		return fmt.Errorf("config: remember_device.days: must not be negative")
	}
	// NIST SP 800-63B: a single-factor login lasts at most the AAL1
	// reauthentication limit, so a remembered browser may not outlast it.
	if limit := c.Sessions.AAL1.Absolute.Duration; time.Duration(d.Days)*24*time.Hour > limit {
		return fmt.Errorf("config: remember_device.days: %d days is longer than sessions.aal1.absolute (%s), the reauthentication limit", d.Days, limit)
	}
	for i, r := range d.Roles {
		if slices.Contains(c.MFA.PhishingResistantRoles, r) {
			return fmt.Errorf("config: remember_device.roles[%d]: %q is a phishing-resistant role and may never skip its second factor", i, r)
		}
	}
	for i, dom := range c.ForwardAuth.AllowedRedirectDomains {
		if dom == "" || strings.ContainsAny(dom, "/:@ ") {
			return fmt.Errorf("config: forward_auth.allowed_redirect_domains[%d]: %q is not a host name", i, dom)
		}
	}
	return nil
}

// forwardRule checks one forward_auth rule's host and path.
func forwardRule(key string, r ForwardAuthRule) error {
	if r.Host == "" || strings.ContainsAny(r.Host, "/:@ ") || (strings.Contains(r.Host, "*") && !strings.HasPrefix(r.Host, "*.")) {
		return fmt.Errorf("config: %s.host: %q is not a host name or *.domain", key, r.Host)
	}
	if r.Path != "" && r.Path[0] != '/' && r.Path[0] != '*' {
		return fmt.Errorf("config: %s.path: %q must start with / or *", key, r.Path)
	}
	return nil
}
