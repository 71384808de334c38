package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSMS(t *testing.T) {
	c, err := Parse([]byte(`
sms:
  provider: twilio
  twilio: {account_sid: AC123, auth_token: "v1:abcd:xyz", from: "+15005550006", base_url: "http://127.0.0.1:9999", lookup_base_url: "http://127.0.0.1:9998"}
  forbidden_roles: [approver]
  send_limits: [{max: 2, window: 10m}]
  sim_swap: {enabled: true, days: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SMS; got.ForbiddenRoles[0] != "approver" || got.SendLimits[0].Max != 2 || got.SendLimits[0].Window.Duration != 10*time.Minute ||
		!got.SIMSwap.Enabled || got.SIMSwap.Days != 3 || got.Twilio.LookupBaseURL != "http://127.0.0.1:9998" {
		t.Errorf("sms = %+v", got)
	}
	d := Default().SMS
	if len(d.SendLimits) != 2 || d.SendLimits[0].Max != 3 || d.SendLimits[1].Window.Duration != 24*time.Hour || d.SIMSwap.Enabled {
		t.Errorf("default sms = %+v, want 3/15m and 10/24h, no SIM-swap check", d)
	}
}

func TestParseSMSErrors(t *testing.T) {
	tests := []struct {
		yaml    string
		wantKey string
	}{
		{"sms: {forbidden_roles: [boss]}", "sms.forbidden_roles[0]"},
		{"sms: {send_limits: [{max: 0, window: 15m}]}", "sms.send_limits[0]"},
		{"sms: {send_limits: [{max: 3, window: 0s}]}", "sms.send_limits[0]"},
		{"sms: {twilio: {base_url: 'ftp://x'}}", "sms.twilio.base_url"},
		{"sms: {twilio: {lookup_base_url: 'nope'}}", "sms.twilio.lookup_base_url"},
		{"sms: {provider: twilio, twilio: {auth_token: t, from: '+1'}}", "sms.twilio.account_sid"},
		{"sms: {provider: twilio, twilio: {account_sid: AC1, from: '+1'}}", "sms.twilio.auth_token"},
		{"sms: {provider: twilio, twilio: {account_sid: AC1, auth_token: t}}", "sms.twilio.from"},
		{"sms: {sim_swap: {enabled: true}}", "sms.sim_swap.enabled"},
		{"sms: {sim_swap: {days: 0}}", "sms.sim_swap.days"},
		{"mfa: {rollout: [{roles: [clerk], methods: [sms], enforce_from: 2026-07-01}]}", "mfa.rollout[0].methods"},
		{"mfa: {rollout: [{roles: [admin], methods: [sms, backup_code], enforce_from: 2026-07-01}]}", "mfa.rollout[0].methods"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
			t.Errorf("Parse(%q) error = %v, want one naming %s", tt.yaml, err, tt.wantKey)
		}
	}
}
