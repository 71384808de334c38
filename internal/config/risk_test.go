package config_test

import (
	"strings"
	"testing"

	"github.com/ordergate/ordergate/internal/config"
)

func TestRiskKeys(t *testing.T) {
	tests := []struct {
		yaml    string
		wantKey string // "" = valid
	}{
		{"risk: {geoip_path: /x.mmdb, impossible_travel_kmh: 1000, thresholds: {mfa: 30, phishing_resistant: 60, deny: 95}}", ""},
		{"risk: {impossible_travel_kmh: 0}", "risk.impossible_travel_kmh"},
		{"risk: {thresholds: {mfa: 80, phishing_resistant: 60, deny: 95}}", "risk.thresholds"},
		{"remember_device: {roles: [clerk], days: 30}", ""},
		{"remember_device: {days: 31}", "remember_device.days"},
		{"remember_device: {days: -1}", "remember_device.days"},
		{"mfa: {phishing_resistant_roles: [admin]}\nremember_device: {roles: [admin]}", "remember_device.roles[0]"},
		{"forward_auth: {rules: [{host: legacy.example.com, path: \"/keys/*\", require: phishing_resistant}]}", ""},
		{"forward_auth: {rules: [{host: \"*.example.com\", require: two_factor, roles: [admin]}]}", ""},
		{"forward_auth: {rules: [{host: legacy.example.com, require: three_factor}]}", "forward_auth.rules[0].require"},
		{"forward_auth: {rules: [{require: one_factor}]}", "forward_auth.rules[0].host"},
		{"forward_auth: {rules: [{host: \"ex*ample.com\", require: one_factor}]}", "forward_auth.rules[0].host"},
		{"forward_auth: {rules: [{host: a.example.com, path: admin, require: one_factor}]}", "forward_auth.rules[0].path"},
		{"forward_auth: {allowed_redirect_domains: [\"https://evil.example\"]}", "forward_auth.allowed_redirect_domains[0]"},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte(tt.yaml))
		switch {
		case tt.wantKey == "" && err != nil:
			t.Errorf("Parse(%q) = %v, want valid", tt.yaml, err)
		case tt.wantKey != "" && (err == nil || !strings.Contains(err.Error(), tt.wantKey)):
			t.Errorf("Parse(%q) error = %v, want one naming %s", tt.yaml, err, tt.wantKey)
		}
	}
}
