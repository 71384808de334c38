// Package webauthntest is a software WebAuthn authenticator and client for
// tests that cannot drive a browser: it answers the options the server
// sends with the JSON a browser's PublicKeyCredential.toJSON() gives.
// Keys are ECDSA P-256 (ES256); attestation is "none" or packed
// self-attestation. It encodes CBOR with the library's own encoder.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator is a software authenticator with resident credentials.
// Change its fields between ceremonies to simulate other devices.
type Authenticator struct {
	// Origin is the origin the "browser" reports in client data.
	Origin string
	// AAGUID identifies the model; zero gives no AAGUID.
	AAGUID [16]byte
	// UserVerified sets the UV flag (a PIN was entered).
	UserVerified bool
	// BackupEligible and BackedUp set the BE and BS flags (a synced passkey).
	BackupEligible, BackedUp bool
	// Attest gives packed self-attestation instead of "none".
	Attest bool
	// Counter is the signature counter of the next operation; it is
	// incremented before each use unless FixedCounter is set.
	Counter      uint32
	FixedCounter bool

	creds []*credential
}

type credential struct {
	id     []byte
	rpID   string
	user   []byte
	key    *ecdsa.PrivateKey
	cosePK []byte
}

// Credentials returns how many credentials the authenticator holds.
func (a *Authenticator) Credentials() int { return len(a.creds) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (a *Authenticator) flags(attested bool) byte {
	f := byte(protocol.FlagUserPresent)
	if a.UserVerified {
		f |= byte(protocol.FlagUserVerified)
	}
	if a.BackupEligible {
		f |= byte(protocol.FlagBackupEligible)
	}
	if a.BackedUp {
		f |= byte(protocol.FlagBackupState)
	}
	if attested {
		f |= byte(protocol.FlagAttestedCredentialData)
	}
	return f
}

func (a *Authenticator) authData(rpID string, attested []byte) []byte {
	if !a.FixedCounter {
		a.Counter++
	}
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, a.flags(attested != nil))
	out = binary.BigEndian.AppendUint32(out, a.Counter)
	return append(out, attested...)
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// Create answers creation options ({"publicKey": {...}}) with a new
// credential, as navigator.credentials.create and toJSON would.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var cc protocol.CredentialCreation
	if err := json.Unmarshal(options, &cc); err != nil {
		return nil, err
	}
	o := cc.Response
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	x, y := key.X.FillBytes(make([]byte, 32)), key.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: x, YCoord: y})
	if err != nil {
		return nil, err
	}
	c := &credential{id: make([]byte, 32), rpID: o.RelyingParty.ID, key: key, cosePK: cose}
	rand.Read(c.id)
	if id, ok := o.User.ID.(protocol.URLEncodedBase64); ok {
		c.user = id
	} else if s, ok := o.User.ID.(string); ok {
		c.user, _ = base64.RawURLEncoding.DecodeString(s)
	}
	attested := append([]byte{}, a.AAGUID[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(c.id)))
	attested = append(append(attested, c.id...), cose...)
	authData := a.authData(c.rpID, attested)
	cdj := a.clientData("webauthn.create", o.Challenge.String())
	stmt := map[string]any{}
	format := "none"
	if a.Attest {
		format = "packed"
		h := sha256.Sum256(cdj)
		sig, err := sign(key, append(append([]byte{}, authData...), h[:]...))
		if err != nil {
			return nil, err
		}
		stmt = map[string]any{"alg": int64(webauthncose.AlgES256), "sig": sig}
	}
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": format, "attStmt": stmt, "authData": authData})
	if err != nil {
		return nil, err
	}
	a.creds = append(a.creds, c)
	return json.Marshal(map[string]any{
		"id": b64(c.id), "rawId": b64(c.id), "type": "public-key", "authenticatorAttachment": "cross-platform",
		"clientExtensionResults": map[string]any{},
		"response":               map[string]any{"clientDataJSON": b64(cdj), "attestationObject": b64(obj), "transports": []string{"usb"}},
	})
}

func sign(key *ecdsa.PrivateKey, data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	return ecdsa.SignASN1(rand.Reader, key, h[:])
}

// Get answers request options with an assertion by the first credential
// for the RP that the options allow (any, when they list none).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var ca protocol.CredentialAssertion
	if err := json.Unmarshal(options, &ca); err != nil {
		return nil, err
	}
	o := ca.Response
	var c *credential
	for _, cand := range a.creds {
		if cand.rpID != o.RelyingPartyID {
			continue
		}
		if len(o.AllowedCredentials) == 0 {
			c = cand
			break
		}
		for _, d := range o.AllowedCredentials {
			if string(d.CredentialID) == string(cand.id) {
				c = cand
			}
		}
		if c != nil {
			break
		}
	}
	if c == nil {
		return nil, errors.New("webauthntest: no credential for these options")
	}
	return a.assert(c, o.Challenge.String(), c.id)
}

// GetWith is Get by a chosen credential (the index in creation order)
// under another credential ID, to forge assertions a browser would not
// make.
func (a *Authenticator) GetWith(options []byte, index int, claimID []byte) ([]byte, error) {
	var ca protocol.CredentialAssertion
	if err := json.Unmarshal(options, &ca); err != nil {
		return nil, err
	}
	if index >= len(a.creds) {
		return nil, fmt.Errorf("webauthntest: no credential %d", index)
	}
	return a.assert(a.creds[index], ca.Response.Challenge.String(), claimID)
}

func (a *Authenticator) assert(c *credential, challenge string, id []byte) ([]byte, error) {
	authData := a.authData(c.rpID, nil)
	cdj := a.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cdj)
	sig, err := sign(c.key, append(append([]byte{}, authData...), h[:]...))
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(id), "rawId": b64(id), "type": "public-key", "authenticatorAttachment": "cross-platform",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(cdj), "authenticatorData": b64(authData),
			"signature": b64(sig), "userHandle": b64(c.user)},
	})
}
