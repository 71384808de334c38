package webauthn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/metadata"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Requirements are what a user's roles demand of an authenticator.
type Requirements struct {
	// UserVerification demands a PIN or biometric on every use.
	UserVerification bool
	// DeviceBound refuses credentials that may be synced or backed up
	// (backup eligible), i.e. most passkeys.
	DeviceBound bool
	// Attestation asks for direct attestation at registration and accepts
	// only approved models: an attestation other than "none", an AAGUID on
	// AllowedAAGUIDs (when not empty), and, when Metadata is set, an
	// attestation that chains to the model's metadata and a model whose
	// status is not compromised.
	Attestation    bool
	AllowedAAGUIDs []string
	Metadata       metadata.Provider
}

// ParseAAGUID returns the canonical form of an AAGUID written as a UUID.
func ParseAAGUID(s string) (string, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	return id.String(), nil
}

func (r Requirements) allowed(aaguid string) bool {
	return len(r.AllowedAAGUIDs) == 0 || (aaguid != "" && slices.Contains(r.AllowedAAGUIDs, aaguid))
}

func (r Requirements) checkRegistration(c *gowebauthn.Credential) error {
	aaguid := aaguidString(c.Authenticator.AAGUID)
	switch {
	case r.UserVerification && !c.Flags.UserVerified:
		return fmt.Errorf("%w: user verification required", ErrPolicy)
	case r.DeviceBound && c.Flags.BackupEligible:
		return fmt.Errorf("%w: device-bound key required, credential is backup eligible", ErrPolicy)
	case !r.Attestation:
		return nil
	case c.AttestationFormat == "" || c.AttestationFormat == "none":
		return fmt.Errorf("%w: attestation required, got none (aaguid %q)", ErrPolicy, aaguid)
	case !r.allowed(aaguid):
		return fmt.Errorf("%w: authenticator model %q is not on the allow-list", ErrPolicy, aaguid)
	case r.Metadata != nil:
		if err := c.Verify(r.Metadata, gowebauthn.Config{}.Attestation, gowebauthn.Config{}.Signature); err != nil {
			return fmt.Errorf("%w: metadata check of %q: %v", ErrPolicy, aaguid, err)
		}
	}
	return nil
}

// checkAssertion applies the requirements at each use, so that a credential
// registered before the policy tightened is refused too.
func (r Requirements) checkAssertion(c *gowebauthn.Credential, as *Assertion) error {
	switch {
	case r.UserVerification && !as.UserVerified:
		return fmt.Errorf("%w: user verification required", ErrPolicy)
	case r.DeviceBound && as.BackupEligible:
		return fmt.Errorf("%w: device-bound key required, credential is backup eligible", ErrPolicy)
	case r.Attestation && (c.AttestationFormat == "" || c.AttestationFormat == "none"):
		return fmt.Errorf("%w: credential was registered without attestation", ErrPolicy)
	case r.Attestation && !r.allowed(as.AAGUID):
		return fmt.Errorf("%w: authenticator model %q is not on the allow-list", ErrPolicy, as.AAGUID)
	}
	return nil
}
