package config

import (
	"fmt"
	"regexp"
	"strings"
)

// WebAuthn is what roles demand of security keys and passkeys (mfa.webauthn).
type WebAuthn struct {
	// RequireUserVerification lists roles that must verify the user (PIN,
	// biometric) on every use of a key.
	RequireUserVerification []string `yaml:"require_user_verification"`
	// RequireDeviceBound lists roles that may not use keys that can be
	// synced or backed up (backup-eligible passkeys).
	RequireDeviceBound []string `yaml:"require_device_bound"`
	// AttestationRoles may only register approved authenticator models:
	// attestation is requested and the AAGUID must be on AllowedAAGUIDs
	// and, when MDSPath is set, pass the FIDO metadata.
	AttestationRoles []string `yaml:"attestation_roles"`
	AllowedAAGUIDs   []string `yaml:"allowed_aaguids"`
	// MDSPath is a FIDO Metadata Service (MDS3) BLOB file; MDSRootCert a
	// PEM file with the root its signature must chain to (default: the
	// FIDO Alliance's MDS root).
	MDSPath     string `yaml:"mds_path"`
	MDSRootCert string `yaml:"mds_root_cert"`
}

var aaguidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validateWebAuthn checks mfa.passwordless_roles and mfa.webauthn, and
// writes AAGUIDs in lower case.
func (m *MFA) validateWebAuthn() error {
	if err := roles("mfa.passwordless_roles", m.PasswordlessRoles, false); err != nil {
		return err
	}
	w := &m.WebAuthn
	for key, list := range map[string][]string{
		"mfa.webauthn.require_user_verification": w.RequireUserVerification,
		"mfa.webauthn.require_device_bound":      w.RequireDeviceBound,
		"mfa.webauthn.attestation_roles":         w.AttestationRoles,
	} {
		if err := roles(key, list, false); err != nil {
			return err
		}
	}
	for i, a := range w.AllowedAAGUIDs {
		if !aaguidPattern.MatchString(a) {
			return fmt.Errorf("config: mfa.webauthn.allowed_aaguids[%d]: %q is not a UUID like cb69481e-8ff7-4039-93ec-0a2729a154a8", i, a)
		}
		w.AllowedAAGUIDs[i] = strings.ToLower(a)
	}
	if len(w.AttestationRoles) > 0 && len(w.AllowedAAGUIDs) == 0 && w.MDSPath == "" {
		return fmt.Errorf("config: mfa.webauthn.attestation_roles: needs allowed_aaguids or mds_path to say which models are approved")
	}
	if w.MDSRootCert != "" && w.MDSPath == "" {
		return fmt.Errorf("config: mfa.webauthn.mds_root_cert: set without mds_path")
	}
	return nil
}
