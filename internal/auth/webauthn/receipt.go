package webauthn

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
)

// Transaction is what a step-up approves: the action on one order, with
// the order's total (minor units) and currency as they were when the
// challenge was made.
type Transaction struct {
	Action   string `json:"action"`
	Currency string `json:"currency"`
	OrderID  string `json:"order_id"`
	Total    int64  `json:"total"`
}

// Canonical returns the transaction's canonical JSON: keys in sorted
// order, no spaces.
func (t Transaction) Canonical() []byte {
	b, _ := json.Marshal(t) // the fields are declared in key order
	return b
}

// TransactionChallenge is the challenge of a step-up bound to t:
// SHA-256(nonce ‖ canonical JSON of t). The authenticator signs over it, so
// the assertion proves approval of exactly this action, order, total and
// currency (dynamic linking).
func TransactionChallenge(nonce []byte, t Transaction) []byte {
	h := sha256.New()
	h.Write(nonce)
	h.Write(t.Canonical())
	return h.Sum(nil)
}

// Receipt is a signed assertion kept as evidence: with the credential's
// public key, the nonce and the transaction, anyone can check later that
// the key's holder approved the transaction. Binary fields are base64url
// in JSON, like the browser sends them.
type Receipt struct {
	RPID              string                    `json:"rp_id"`
	Origin            string                    `json:"origin"`
	CredentialID      protocol.URLEncodedBase64 `json:"credential_id"`
	PublicKey         protocol.URLEncodedBase64 `json:"public_key"`
	ClientDataJSON    protocol.URLEncodedBase64 `json:"client_data_json"`
	AuthenticatorData protocol.URLEncodedBase64 `json:"authenticator_data"`
	Signature         protocol.URLEncodedBase64 `json:"signature"`
	UserHandle        protocol.URLEncodedBase64 `json:"user_handle,omitempty"`
	// Nonce and Transaction are set for a transaction-bound step-up.
	Nonce       protocol.URLEncodedBase64 `json:"nonce,omitempty"`
	Transaction *Transaction              `json:"transaction,omitempty"`
}

// VerifyReceipt checks a stored receipt of a transaction-bound step-up:
// the challenge the client data carries must be TransactionChallenge of
// the receipt's nonce and transaction, the assertion must come from one of
// origins for rpID with user presence, and the signature over the
// authenticator data and client data must verify with the receipt's public
// key. It trusts the receipt's public key: take the receipt from the
// tamper-evident audit log, or compare the key with the registered one.
// Errors wrap ErrVerification.
func VerifyReceipt(r Receipt, rpID string, origins []string) error {
	if r.Transaction == nil || len(r.Nonce) == 0 {
		return fmt.Errorf("%w: receipt is not bound to a transaction", ErrVerification)
	}
	challenge := base64.RawURLEncoding.EncodeToString(TransactionChallenge(r.Nonce, *r.Transaction))
	body, err := json.Marshal(map[string]any{
		"id": r.CredentialID.String(), "rawId": r.CredentialID.String(), "type": "public-key",
		"response": map[string]any{"clientDataJSON": r.ClientDataJSON, "authenticatorData": r.AuthenticatorData,
			"signature": r.Signature, "userHandle": r.UserHandle},
	})
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return verificationError(err)
	}
	err = parsed.Verify(challenge, rpID, "", origins, nil, nil, protocol.TopOriginExplicitVerificationMode,
		false, false, true, r.PublicKey, protocol.SignaturePolicy{})
	if err != nil {
		return verificationError(err)
	}
	return nil
}

// VerifyReceipt is VerifyReceipt with the relying party's RP ID and origins.
func (rp *RelyingParty) VerifyReceipt(r Receipt) error {
	return VerifyReceipt(r, rp.id, rp.origins)
}
