// Package config reads ordergate.yaml. Every key is optional; unknown keys
// and invalid values stop the start with a message naming the key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Config is the whole configuration file.
type Config struct {
	TrustedNetworks []string       `yaml:"trusted_networks"`
	TrustedProxies  []string       `yaml:"trusted_proxies"`
	MFA             MFA            `yaml:"mfa"`
	SMS             SMS            `yaml:"sms"`
	Approvals       []Approval     `yaml:"approvals"`
	Risk            Risk           `yaml:"risk"`
	RememberDevice  RememberDevice `yaml:"remember_device"`
	ForwardAuth     ForwardAuth    `yaml:"forward_auth"`
	Sessions        Sessions       `yaml:"sessions"`

	// Parsed forms of the lists above, filled by Validate.
	TrustedPrefixes []netip.Prefix `yaml:"-"`
	ProxyPrefixes   []netip.Prefix `yaml:"-"`
}

// MFA is the second-factor policy.
type MFA struct {
	MandatoryRoles         []string  `yaml:"mandatory_roles"`
	PhishingResistantRoles []string  `yaml:"phishing_resistant_roles"`
	Rollout                []Rollout `yaml:"rollout"`

	// PasswordlessRoles may sign in with a passkey and user verification
	// alone; WebAuthn says what roles demand of keys (webauthn.go).
	PasswordlessRoles []string `yaml:"passwordless_roles"`
	WebAuthn          WebAuthn `yaml:"webauthn"`
}

// Rollout is one phase of a mandate: from EnforceFrom (after GraceDays)
// users with these roles ("*" for all) must have one of Methods.
type Rollout struct {
	Roles       []string `yaml:"roles"`
	Methods     []string `yaml:"methods"`
	EnforceFrom Date     `yaml:"enforce_from"`
	GraceDays   int      `yaml:"grace_days"`
}

// SMS chooses and configures the SMS provider.
type SMS struct {
	Provider string `yaml:"provider"`
	Twilio   Twilio `yaml:"twilio"`
	// ForbiddenRoles may not use SMS codes at all.
	ForbiddenRoles []string `yaml:"forbidden_roles"`
	// SendLimits bound the codes sent per user and per number.
	SendLimits []SendLimit `yaml:"send_limits"`
	// SIMSwap refuses codes to numbers whose SIM changed recently
	// (Twilio Lookup v2; needs provider twilio).
	SIMSwap SIMSwap `yaml:"sim_swap"`
}

// SendLimit allows Max codes per Window.
type SendLimit struct {
	Max    int      `yaml:"max"`
	Window Duration `yaml:"window"`
}

// SIMSwap configures the SIM-swap check before each code.
type SIMSwap struct {
	Enabled bool `yaml:"enabled"`
	// Days is how recent a SIM change must be to refuse the number.
	Days int `yaml:"days"`
}

// Twilio holds the Twilio-compatible provider's account.
type Twilio struct {
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	From       string `yaml:"from"`
	BaseURL    string `yaml:"base_url"`
	// LookupBaseURL is the Lookup v2 root, for the SIM-swap check.
	LookupBaseURL string `yaml:"lookup_base_url"`
}

// Approval is a step-up rule for an order action.
type Approval struct {
	Action    string           `yaml:"action"`
	Above     map[string]int64 `yaml:"above"`
	Methods   []string         `yaml:"methods"`
	MaxAge    Duration         `yaml:"max_age"`
	Approvers int              `yaml:"approvers"`
}

// Risk configures the adaptive risk engine.
type Risk struct {
	GeoIPPath           string     `yaml:"geoip_path"`
	ImpossibleTravelKMH float64    `yaml:"impossible_travel_kmh"`
	Thresholds          Thresholds `yaml:"thresholds"`
}

// Thresholds map a risk score (0..100) to a decision.
type Thresholds struct {
	MFA               int `yaml:"mfa"`
	PhishingResistant int `yaml:"phishing_resistant"`
	Deny              int `yaml:"deny"`
}

// RememberDevice lets some roles skip the second factor on a known device.
type RememberDevice struct {
	Roles []string `yaml:"roles"`
	Days  int      `yaml:"days"`
}

// ForwardAuth configures /auth/verify.
type ForwardAuth struct {
	AllowedRedirectDomains []string          `yaml:"allowed_redirect_domains"`
	Rules                  []ForwardAuthRule `yaml:"rules"`
}

// ForwardAuthRule is one forward-auth rule; the first match wins.
type ForwardAuthRule struct {
	Host    string   `yaml:"host"`
	Path    string   `yaml:"path"`
	Require string   `yaml:"require"`
	Roles   []string `yaml:"roles"`
}

// Sessions sets idle and absolute session limits per assurance level.
type Sessions struct {
	AAL1 Timeouts `yaml:"aal1"`
	AAL2 Timeouts `yaml:"aal2"`
	AAL3 Timeouts `yaml:"aal3"`
}

// Timeouts are a session's idle and absolute limits.
type Timeouts struct {
	Idle     Duration `yaml:"idle"`
	Absolute Duration `yaml:"absolute"`
}

// Duration is a time.Duration written as "5m", "12h".
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(b []byte) error {
	s := unquote(b)
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration such as 5m or 12h", s)
	}
	d.Duration = v
	return nil
}

// Date is a calendar date written as 2026-07-01, meaning midnight UTC.
type Date struct{ time.Time }

// UnmarshalYAML parses a YYYY-MM-DD date.
func (d *Date) UnmarshalYAML(b []byte) error {
	s := unquote(b)
	v, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("%q is not a date in the form 2026-07-01", s)
	}
	d.Time = v
	return nil
}

// Second factor method names.
var Methods = []string{"totp", "webauthn", "sms", "backup_code"}

// Default returns the configuration used when no file is given.
func Default() *Config {
	c := &Config{
		TrustedNetworks: []string{"127.0.0.0/8", "::1/128"},
		MFA:             MFA{MandatoryRoles: []string{"admin", "approver"}},
		SMS: SMS{Provider: "outbox", Twilio: Twilio{BaseURL: "https://api.twilio.com", LookupBaseURL: "https://lookups.twilio.com"},
			SendLimits: []SendLimit{{Max: 3, Window: Duration{15 * time.Minute}}, {Max: 10, Window: Duration{24 * time.Hour}}},
			SIMSwap:    SIMSwap{Days: 7}},
		Approvals: []Approval{
			{Action: "order.approve", Above: map[string]int64{"USD": 1000000, "EUR": 1000000},
				Methods: []string{"webauthn", "totp"}, MaxAge: Duration{5 * time.Minute}},
			{Action: "order.modify_terms", Methods: []string{"webauthn", "totp"}, MaxAge: Duration{5 * time.Minute}},
		},
		Risk:           Risk{ImpossibleTravelKMH: 900, Thresholds: Thresholds{MFA: 40, PhishingResistant: 70, Deny: 90}},
		RememberDevice: RememberDevice{Days: 30},
		Sessions: Sessions{
			AAL1: Timeouts{Duration{24 * time.Hour}, Duration{30 * 24 * time.Hour}},
			AAL2: Timeouts{Duration{30 * time.Minute}, Duration{12 * time.Hour}},
			AAL3: Timeouts{Duration{15 * time.Minute}, Duration{12 * time.Hour}},
		},
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// Load reads the file at path over the defaults; "" gives the defaults.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b)
}

// Parse reads a configuration from YAML over the defaults.
func Parse(b []byte) (*Config, error) {
	c := Default()
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField())
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %s", yaml.FormatError(err, false, true))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Roles lists the roles the configuration may name.
var Roles = []string{"admin", "approver", "clerk", "auditor"}

// Validate checks every value and fills the parsed fields. Its error
// names the key at fault.
func (c *Config) Validate() error {
	var err error
	if c.TrustedPrefixes, err = prefixes("trusted_networks", c.TrustedNetworks); err != nil {
		return err
	}
	if c.ProxyPrefixes, err = prefixes("trusted_proxies", c.TrustedProxies); err != nil {
		return err
	}
	if err := roles("mfa.mandatory_roles", c.MFA.MandatoryRoles, false); err != nil {
		return err
	}
	if err := roles("mfa.phishing_resistant_roles", c.MFA.PhishingResistantRoles, false); err != nil {
		return err
	}
	if err := c.MFA.validateWebAuthn(); err != nil {
		return err
	}
	for i, r := range c.MFA.Rollout {
		key := fmt.Sprintf("mfa.rollout[%d]", i)
		if err := roles(key+".roles", r.Roles, true); err != nil {
			return err
		}
		if err := methods(key+".methods", r.Methods); err != nil {
			return err
		}
		if r.EnforceFrom.IsZero() {
			return fmt.Errorf("config: %s.enforce_from: a date is required", key)
		}
		if r.GraceDays < 0 {
			return fmt.Errorf("config: %s.grace_days: must not be negative", key)
		}
	}
	if c.SMS.Provider != "outbox" && c.SMS.Provider != "twilio" {
		return fmt.Errorf("config: sms.provider: %q is not outbox or twilio", c.SMS.Provider)
	}
	if err := c.SMS.validate(); err != nil {
		return err
	}
	if err := validateRestricted(c.MFA.Rollout); err != nil {
		return err
	}
	for i, a := range c.Approvals {
		key := fmt.Sprintf("approvals[%d]", i)
		if a.Action == "order.export" {
			// Nothing asks for a step-up on exports: a rule would do nothing.
			return fmt.Errorf("config: %s.action: order.export is not enforced; only order.approve and order.modify_terms take approval rules", key)
		}
		if a.Action != "order.approve" && a.Action != "order.modify_terms" {
			return fmt.Errorf("config: %s.action: %q is not order.approve or order.modify_terms", key, a.Action)
		}
		if err := methods(key+".methods", a.Methods); err != nil {
			return err
		}
		for cur, v := range a.Above {
			if len(cur) != 3 || strings.ToUpper(cur) != cur || v < 0 {
				return fmt.Errorf("config: %s.above.%s: want an ISO 4217 code and a non-negative amount in minor units", key, cur)
			}
		}
		if a.Approvers < 0 {
			return fmt.Errorf("config: %s.approvers: must not be negative", key)
		}
	}
	t := c.Risk.Thresholds
	if !(0 <= t.MFA && t.MFA <= t.PhishingResistant && t.PhishingResistant <= t.Deny && t.Deny <= 100) {
		return fmt.Errorf("config: risk.thresholds: want 0 <= mfa <= phishing_resistant <= deny <= 100")
	}
	if err := roles("remember_device.roles", c.RememberDevice.Roles, false); err != nil {
		return err
	}
	if err := c.validateRisk(); err != nil {
		return err
	}
	for i, r := range c.ForwardAuth.Rules {
		key := fmt.Sprintf("forward_auth.rules[%d]", i)
		if r.Require != "one_factor" && r.Require != "two_factor" && r.Require != "phishing_resistant" && r.Require != "deny" && r.Require != "bypass" {
			return fmt.Errorf("config: %s.require: %q is not bypass, one_factor, two_factor, phishing_resistant or deny", key, r.Require)
		}
		if err := forwardRule(key, r); err != nil {
			return err
		}
		if err := roles(key+".roles", r.Roles, false); err != nil {
			return err
		}
	}
	for name, s := range map[string]Timeouts{"aal1": c.Sessions.AAL1, "aal2": c.Sessions.AAL2, "aal3": c.Sessions.AAL3} {
		if s.Idle.Duration <= 0 || s.Absolute.Duration < s.Idle.Duration {
			return fmt.Errorf("config: sessions.%s: want 0 < idle <= absolute", name)
		}
	}
	return nil
}

func prefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("config: %s[%d]: %q is not an address or CIDR prefix", key, i, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func roles(key string, list []string, star bool) error {
	for i, r := range list {
		if !slices.Contains(Roles, r) && !(star && r == "*") {
			return fmt.Errorf("config: %s[%d]: unknown role %q (known: %s)", key, i, r, strings.Join(Roles, ", "))
		}
	}
	return nil
}

func methods(key string, list []string) error {
	for i, m := range list {
		if !slices.Contains(Methods, m) {
			return fmt.Errorf("config: %s[%d]: unknown method %q (known: %s)", key, i, m, strings.Join(Methods, ", "))
		}
	}
	return nil
}

func unquote(b []byte) string {
	return strings.Trim(strings.TrimSpace(string(b)), `"'`)
}
