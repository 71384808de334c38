// Package webauthn is ordergate's WebAuthn (FIDO2) relying party: it builds
// ceremony options and verifies authenticator responses with
// github.com/go-webauthn/webauthn, keeps the credential record that a
// factor's parameters hold, applies a role's demands on authenticators
// (user verification, device-bound keys, attestation with an AAGUID
// allow-list and FIDO metadata), and binds step-up challenges to a
// transaction whose signed assertion can be re-verified later.
//
// It knows nothing of sessions, users' roles or storage: package auth
// keeps the ceremony state and decides what a role requires.
package webauthn

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Sentinel errors. Every error a Finish function returns wraps one of
// them, so the caller can tell a refused authenticator from a bad response
// while showing the user one generic message.
var (
	// ErrVerification marks a response that failed verification: bad
	// signature, wrong origin, RP ID or challenge, missing user
	// verification, malformed data.
	ErrVerification = errors.New("webauthn: response verification failed")
	// ErrPolicy marks a valid response from an authenticator the role may
	// not use (synced passkey, unapproved model, no attestation).
	ErrPolicy = errors.New("webauthn: authenticator refused by policy")
	// ErrUnknownCredential marks an assertion by a credential that is not
	// one of the user's.
	ErrUnknownCredential = errors.New("webauthn: unknown credential")
)

// RelyingParty is ordergate as a WebAuthn relying party.
type RelyingParty struct {
	wa      *gowebauthn.WebAuthn
	id      string
	origins []string
}

// New returns the relying party for the public URL users reach ordergate
// at: its host name is the RP ID and its origin (scheme, host and port)
// the only origin accepted.
func New(publicURL, displayName string) (*RelyingParty, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("webauthn: public URL %q is not an absolute http(s) URL", publicURL)
	}
	if displayName == "" {
		displayName = "ordergate"
	}
	origin := u.Scheme + "://" + u.Host
	wa, err := gowebauthn.New(&gowebauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: displayName,
		RPOrigins:     []string{origin},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &RelyingParty{wa: wa, id: u.Hostname(), origins: []string{origin}}, nil
}

// ID returns the RP ID.
func (rp *RelyingParty) ID() string { return rp.id }

// Origins returns the origins responses may come from.
func (rp *RelyingParty) Origins() []string { return rp.origins }

// Stored is one registered credential as the caller keeps it: the factor
// it belongs to, its record (Registration.Params) and its current
// signature counter.
type Stored struct {
	FactorID  string
	Params    []byte
	SignCount uint32
}

// User is the account a ceremony is for.
type User struct {
	// Handle is the opaque user handle authenticators keep (at most 64
	// bytes; ordergate uses the user ID).
	Handle      []byte
	Name        string
	DisplayName string
	Credentials []Stored
}

// user adapts User to the library, with decoded credentials.
type user struct {
	u     User
	creds []gowebauthn.Credential
}

func (u *user) WebAuthnID() []byte                           { return u.u.Handle }
func (u *user) WebAuthnName() string                         { return u.u.Name }
func (u *user) WebAuthnDisplayName() string                  { return u.u.DisplayName }
func (u *user) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

func adapt(u User) (*user, error) {
	a := &user{u: u}
	if a.u.DisplayName == "" {
		a.u.DisplayName = u.Name
	}
	for _, s := range u.Credentials {
		c, err := decodeCredential(s.Params)
		if err != nil {
			return nil, fmt.Errorf("webauthn: credential of factor %s: %w", s.FactorID, err)
		}
		c.Authenticator.SignCount = s.SignCount
		a.creds = append(a.creds, c)
	}
	return a, nil
}

// record is what a webauthn factor's Params hold: the library's credential
// record, which keeps the raw attestation for later metadata checks.
type record struct {
	Credential gowebauthn.Credential `json:"credential"`
}

func decodeCredential(params []byte) (gowebauthn.Credential, error) {
	var r record
	if err := json.Unmarshal(params, &r); err != nil {
		return gowebauthn.Credential{}, err
	}
	if len(r.Credential.ID) == 0 || len(r.Credential.PublicKey) == 0 {
		return gowebauthn.Credential{}, errors.New("credential record without id or public key")
	}
	return r.Credential, nil
}

// Ceremony is a begun ceremony: the options for the browser and the state
// the server keeps until Finish.
type Ceremony struct {
	// Options is the JSON for navigator.credentials ({"publicKey": {...}}).
	Options []byte
	// Session is the server-side state, opaque to the caller.
	Session []byte
	// Challenge is the ceremony's challenge, base64url; the response's
	// client data carries it, so it identifies the ceremony.
	Challenge string
}

func ceremony(options any, sd *gowebauthn.SessionData) (*Ceremony, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	s, err := json.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return &Ceremony{Options: o, Session: s, Challenge: sd.Challenge}, nil
}

func session(b []byte) (gowebauthn.SessionData, error) {
	var sd gowebauthn.SessionData
	if err := json.Unmarshal(b, &sd); err != nil {
		return sd, fmt.Errorf("webauthn: ceremony state: %w", err)
	}
	return sd, nil
}

// ResponseChallenge returns the challenge in the client data of a
// browser's response (registration or assertion), to find the ceremony it
// answers. The response is not verified here.
func ResponseChallenge(body []byte) (string, error) {
	var r struct {
		Response struct {
			ClientDataJSON protocol.URLEncodedBase64 `json:"clientDataJSON"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("%w: malformed response: %v", ErrVerification, err)
	}
	var cd protocol.CollectedClientData
	if err := json.Unmarshal(r.Response.ClientDataJSON, &cd); err != nil || cd.Challenge == "" {
		return "", fmt.Errorf("%w: malformed client data", ErrVerification)
	}
	return cd.Challenge, nil
}

func uvRequirement(required bool) protocol.UserVerificationRequirement {
	if required {
		return protocol.VerificationRequired
	}
	return protocol.VerificationPreferred
}

// BeginRegistration starts registering a new credential for u, which is
// asked to be discoverable (a passkey) when the authenticator can, and
// excludes u's existing credentials.
func (rp *RelyingParty) BeginRegistration(u User, req Requirements) (*Ceremony, error) {
	a, err := adapt(u)
	if err != nil {
		return nil, err
	}
	conveyance := protocol.PreferNoAttestation
	if req.Attestation {
		conveyance = protocol.PreferDirectAttestation
	}
	opts := []gowebauthn.RegistrationOption{
		gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: uvRequirement(req.UserVerification),
		}),
		gowebauthn.WithConveyancePreference(conveyance),
		gowebauthn.WithExclusions(gowebauthn.Credentials(a.creds).CredentialDescriptors()),
	}
	cc, sd, err := rp.wa.BeginRegistration(a, opts...)
	if err != nil {
		return nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	return ceremony(cc, sd)
}

// Registration is a newly registered credential.
type Registration struct {
	CredentialID []byte
	// Params is the credential record to keep (JSON); Stored.Params later.
	Params    []byte
	SignCount uint32
	// AAGUID names the authenticator model ("" when it gave none).
	AAGUID            string
	AttestationFormat string
	Transports        []string
	BackupEligible    bool
	BackupState       bool
	UserVerified      bool
}

// FinishRegistration verifies the browser's response to a registration
// ceremony and checks the authenticator against req.
func (rp *RelyingParty) FinishRegistration(u User, state, body []byte, req Requirements) (*Registration, error) {
	a, err := adapt(u)
	if err != nil {
		return nil, err
	}
	sd, err := session(state)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, verificationError(err)
	}
	c, err := rp.wa.CreateCredential(a, sd, parsed)
	if err != nil {
		return nil, verificationError(err)
	}
	if err := req.checkRegistration(c); err != nil {
		return nil, err
	}
	params, err := json.Marshal(record{Credential: *c})
	if err != nil {
		return nil, err
	}
	reg := &Registration{CredentialID: c.ID, Params: params, SignCount: c.Authenticator.SignCount,
		AAGUID: aaguidString(c.Authenticator.AAGUID), AttestationFormat: c.AttestationFormat,
		BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState, UserVerified: c.Flags.UserVerified}
	for _, t := range c.Transport {
		reg.Transports = append(reg.Transports, string(t))
	}
	return reg, nil
}

// aaguidString formats an AAGUID as a UUID, "" when absent or all zero.
func aaguidString(b []byte) string {
	id, err := uuid.FromBytes(b)
	if err != nil || id == uuid.Nil {
		return ""
	}
	return id.String()
}

// BeginLogin starts an assertion by one of u's credentials, as a second
// factor or for a step-up. With tx set, the challenge is bound to the
// transaction (see TransactionChallenge) and the returned nonce must be
// kept with the ceremony.
func (rp *RelyingParty) BeginLogin(u User, req Requirements, tx *Transaction) (*Ceremony, []byte, error) {
	a, err := adapt(u)
	if err != nil {
		return nil, nil, err
	}
	if len(a.creds) == 0 {
		return nil, nil, fmt.Errorf("%w: the user has no security key", ErrUnknownCredential)
	}
	opts := []gowebauthn.LoginOption{gowebauthn.WithUserVerification(uvRequirement(req.UserVerification))}
	var nonce []byte
	if tx != nil {
		nonce = make([]byte, 32)
		rand.Read(nonce)
		opts = append(opts, gowebauthn.WithChallenge(TransactionChallenge(nonce, *tx)))
	}
	ca, sd, err := rp.wa.BeginLogin(a, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	c, err := ceremony(ca, sd)
	return c, nonce, err
}

// BeginPasskey starts a sign-in with a discoverable credential and user
// verification: the options name no credential and no user.
func (rp *RelyingParty) BeginPasskey() (*Ceremony, error) {
	ca, sd, err := rp.wa.BeginDiscoverableLogin(gowebauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("webauthn: begin passkey login: %w", err)
	}
	return ceremony(ca, sd)
}

// Assertion is a verified assertion.
type Assertion struct {
	// FactorID is the Stored.FactorID of the credential that signed.
	FactorID     string
	CredentialID []byte
	// UserHandle is the handle the authenticator returned (passkeys).
	UserHandle []byte
	// SignCount is the authenticator's counter in this assertion; the
	// caller compares it with Stored.SignCount (CounterRegressed).
	SignCount      uint32
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	AAGUID         string
	// Receipt is the signed assertion, kept to re-verify it later.
	Receipt Receipt
}

// FinishLogin verifies the browser's assertion for a ceremony begun with
// BeginLogin. It does not judge the signature counter: the caller compares
// Assertion.SignCount with what it stored, atomically.
func (rp *RelyingParty) FinishLogin(u User, state, body []byte, req Requirements) (*Assertion, error) {
	a, err := adapt(u)
	if err != nil {
		return nil, err
	}
	sd, err := session(state)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, verificationError(err)
	}
	if !containsCredential(a.creds, parsed.RawID) {
		return nil, fmt.Errorf("%w: credential is not the user's", ErrUnknownCredential)
	}
	c, err := rp.wa.ValidateLogin(a, sd, parsed)
	if err != nil {
		return nil, verificationError(err)
	}
	return rp.assertion(u, c, parsed, req)
}

// FinishPasskey verifies the browser's assertion for a ceremony begun with
// BeginPasskey. lookup finds the user who owns the credential rawID, with
// the user's credentials and requirements; it returns ErrUnknownCredential
// (wrapped) when there is none. The user handle the authenticator returned
// must be that user's.
func (rp *RelyingParty) FinishPasskey(state, body []byte, lookup func(rawID []byte) (User, Requirements, error)) (User, *Assertion, error) {
	sd, err := session(state)
	if err != nil {
		return User{}, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return User{}, nil, verificationError(err)
	}
	var found User
	var req Requirements
	handler := func(rawID, userHandle []byte) (gowebauthn.User, error) {
		u, r, err := lookup(rawID)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(u.Handle, userHandle) {
			return nil, fmt.Errorf("%w: user handle is not the credential owner's", ErrUnknownCredential)
		}
		a, err := adapt(u)
		if err != nil {
			return nil, err
		}
		if !containsCredential(a.creds, rawID) {
			return nil, fmt.Errorf("%w: credential is not the user's", ErrUnknownCredential)
		}
		found, req = u, r
		return a, nil
	}
	_, c, err := rp.wa.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		if errors.Is(err, ErrUnknownCredential) {
			return User{}, nil, fmt.Errorf("%w: %v", ErrUnknownCredential, err)
		}
		return User{}, nil, verificationError(err)
	}
	as, err := rp.assertion(found, c, parsed, req)
	return found, as, err
}

func containsCredential(creds []gowebauthn.Credential, id []byte) bool {
	for _, c := range creds {
		if bytes.Equal(c.ID, id) {
			return true
		}
	}
	return false
}

func (rp *RelyingParty) assertion(u User, c *gowebauthn.Credential, p *protocol.ParsedCredentialAssertionData, req Requirements) (*Assertion, error) {
	flags := p.Response.AuthenticatorData.Flags
	as := &Assertion{CredentialID: c.ID, UserHandle: p.Response.UserHandle, SignCount: p.Response.AuthenticatorData.Counter,
		UserVerified: flags.HasUserVerified(), BackupEligible: flags.HasBackupEligible(), BackupState: flags.HasBackupState(),
		AAGUID: aaguidString(c.Authenticator.AAGUID)}
	for _, s := range u.Credentials {
		if sc, err := decodeCredential(s.Params); err == nil && bytes.Equal(sc.ID, c.ID) {
			as.FactorID = s.FactorID
		}
	}
	if err := req.checkAssertion(c, as); err != nil {
		return nil, err
	}
	raw := p.Raw.AssertionResponse
	as.Receipt = Receipt{RPID: rp.id, Origin: p.Response.CollectedClientData.Origin, CredentialID: c.ID, PublicKey: c.PublicKey,
		ClientDataJSON: raw.ClientDataJSON, AuthenticatorData: raw.AuthenticatorData, Signature: raw.Signature,
		UserHandle: raw.UserHandle}
	return as, nil
}

// CounterRegressed reports whether an assertion's signature counter next,
// after stored, signals a cloned authenticator: it did not move forward,
// unless the authenticator keeps no counter at all (both zero).
func CounterRegressed(stored, next uint32) bool {
	if stored == 0 && next == 0 {
		return false
	}
	return next <= stored
}

// verificationError wraps a library error, keeping its details (which
// name the failed check) for the log.
func verificationError(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg := pe.Type
		if pe.Details != "" {
			msg += ": " + pe.Details
		}
		if pe.DevInfo != "" {
			msg += " (" + strings.TrimSpace(pe.DevInfo) + ")"
		}
		return fmt.Errorf("%w: %s", ErrVerification, msg)
	}
	return fmt.Errorf("%w: %v", ErrVerification, err)
}
