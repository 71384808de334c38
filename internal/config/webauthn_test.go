package config

import (
	"strings"
	"testing"
)

func TestWebAuthnConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string // a part of the error, "" for none
	}{
		{"full", `mfa:
  passwordless_roles: [clerk]
  webauthn:
    require_user_verification: [admin]
    require_device_bound: [admin]
    attestation_roles: [admin]
    allowed_aaguids: [CB69481E-8FF7-4039-93EC-0A2729A154A8]
`, ""},
		{"unknown passwordless role", "mfa: {passwordless_roles: [cashier]}", "mfa.passwordless_roles[0]"},
		{"unknown uv role", "mfa: {webauthn: {require_user_verification: [root]}}", "mfa.webauthn.require_user_verification[0]"},
		{"bad aaguid", "mfa: {webauthn: {allowed_aaguids: [yubikey]}}", "mfa.webauthn.allowed_aaguids[0]"},
		{"attestation without list", "mfa: {webauthn: {attestation_roles: [admin]}}", "mfa.webauthn.attestation_roles"},
		{"root without blob", "mfa: {webauthn: {mds_root_cert: root.pem}}", "mfa.webauthn.mds_root_cert"},
		{"unknown key", "mfa: {webauthn: {allow_list: []}}", "allow_list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := c.MFA.WebAuthn.AllowedAAGUIDs[0]; got != "cb69481e-8ff7-4039-93ec-0a2729a154a8" {
					t.Errorf("allowed_aaguids[0] = %q, want lower case", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
