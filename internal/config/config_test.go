package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseAPIExample(t *testing.T) {
	y := `
trusted_networks: [127.0.0.0/8, ::1/128, 10.1.2.3]
trusted_proxies: []
mfa:
  mandatory_roles: [admin, approver]
  phishing_resistant_roles: []
  rollout:
    - {roles: [admin], methods: [totp, webauthn], enforce_from: 2026-07-01, grace_days: 14}
    - {roles: ["*"], methods: [webauthn, totp, sms], enforce_from: 2026-10-01, grace_days: 30}
sms:
  provider: outbox
  twilio: {account_sid: "", auth_token: "", from: "", base_url: "https://api.twilio.com"}
approvals:
  - {action: order.approve, above: {USD: 1000000, EUR: 1000000}, methods: [webauthn, totp], max_age: 5m}
  - {action: order.modify_terms, methods: [webauthn, totp], max_age: 5m}
risk:
  geoip_path: ""
  impossible_travel_kmh: 900
  thresholds: {mfa: 40, phishing_resistant: 70, deny: 90}
remember_device: {roles: [], days: 30}
forward_auth:
  allowed_redirect_domains: [legacy.example.com]
  rules:
    - {host: legacy.example.com, path: "/admin/*", require: two_factor, roles: [admin]}
    - {host: legacy.example.com, require: one_factor}
`
	c, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.MFA.Rollout[1].EnforceFrom.Time, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("rollout[1].enforce_from = %v, want %v", got, want)
	}
	if got := c.Approvals[0].MaxAge.Duration; got != 5*time.Minute {
		t.Errorf("approvals[0].max_age = %v, want 5m", got)
	}
	if got := c.TrustedPrefixes[2].String(); got != "10.1.2.3/32" {
		t.Errorf("trusted_networks[2] = %s, want 10.1.2.3/32", got)
	}
}

func TestParseNamesTheKeyAtFault(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"mfa: {mandatory_roles: [boss]}", "mfa.mandatory_roles[0]"},
		{"mfa: {rollout: [{roles: [admin], methods: [totp], enforce_from: 01/07/2026}]}", "not a date"},
		{"mfa: {rollout: [{roles: [admin], methods: [carrier-pigeon], enforce_from: 2026-07-01}]}", "mfa.rollout[0].methods[0]"},
		{"mfa: {mandatory_rolez: [admin]}", "mandatory_rolez"},
		{"trusted_networks: [10.0.0.0/33]", "trusted_networks[0]"},
		{"sms: {provider: pigeon}", "sms.provider"},
		{"approvals: [{action: order.approve, methods: [totp], max_age: soon}]", "not a duration"},
		{"approvals: [{action: order.export, methods: [totp], max_age: 5m}]", "approvals[0].action"},
		{"risk: {thresholds: {mfa: 80, phishing_resistant: 70, deny: 90}}", "risk.thresholds"},
		{"forward_auth: {rules: [{host: x, require: maybe}]}", "forward_auth.rules[0].require"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want it to name %q", tc.yaml, err, tc.want)
		}
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil || len(c.MFA.MandatoryRoles) != 2 || c.Sessions.AAL2.Idle.Duration != 30*time.Minute {
		t.Fatalf("Parse(empty) = %+v, %v", c, err)
	}
}

func TestPartialSectionKeepsOtherDefaults(t *testing.T) {
	c, err := Parse([]byte("mfa:\n  phishing_resistant_roles: [admin]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.MFA.MandatoryRoles) != 2 || c.SMS.Provider != "outbox" {
		t.Errorf("defaults lost: mandatory_roles %v, sms.provider %q", c.MFA.MandatoryRoles, c.SMS.Provider)
	}
}
