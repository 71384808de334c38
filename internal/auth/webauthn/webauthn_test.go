package webauthn_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ordergate/ordergate/internal/auth/webauthn"
	"github.com/ordergate/ordergate/internal/auth/webauthn/webauthntest"
)

const origin = "https://og.example.com"

var testAAGUID = [16]byte{0x2f, 0xc0, 0x57, 0x9f, 0x81, 0x13, 0x47, 0xea, 0xb1, 0x16, 0xbb, 0x5a, 0x8d, 0xb9, 0x20, 0x2a}

const testAAGUIDString = "2fc0579f-8113-47ea-b116-bb5a8db9202a"

func mustRP(t *testing.T) *webauthn.RelyingParty {
	t.Helper()
	rp, err := webauthn.New(origin, "ordergate test")
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// register runs a registration ceremony and returns the stored form.
func register(t *testing.T, rp *webauthn.RelyingParty, a *webauthntest.Authenticator, u webauthn.User, req webauthn.Requirements) (webauthn.Stored, *webauthn.Registration, error) {
	t.Helper()
	c, err := rp.BeginRegistration(u, req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := rp.FinishRegistration(u, c.Session, resp, req)
	if err != nil {
		return webauthn.Stored{}, nil, err
	}
	return webauthn.Stored{FactorID: "fac_1", Params: reg.Params, SignCount: reg.SignCount}, reg, nil
}

func TestRegisterAndLogin(t *testing.T) {
	rp := mustRP(t)
	a := &webauthntest.Authenticator{Origin: origin, AAGUID: testAAGUID, UserVerified: true}
	u := webauthn.User{Handle: []byte("usr_alice"), Name: "alice"}
	st, reg, err := register(t, rp, a, u, webauthn.Requirements{})
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	if reg.AAGUID != testAAGUIDString || reg.AttestationFormat != "none" || !reg.UserVerified || reg.BackupEligible {
		t.Errorf("Registration = %+v, want aaguid %s, fmt none, UV, not BE", reg, testAAGUIDString)
	}
	u.Credentials = []webauthn.Stored{st}
	c, _, err := rp.BeginLogin(u, webauthn.Requirements{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	challenge := c.Challenge
	resp, _ := a.Get(c.Options)
	if got, err := webauthn.ResponseChallenge(resp); err != nil || got != challenge {
		t.Errorf("ResponseChallenge = %q, %v; want %q", got, err, challenge)
	}
	as, err := rp.FinishLogin(u, c.Session, resp, webauthn.Requirements{})
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if as.FactorID != "fac_1" || as.SignCount != 2 || !as.UserVerified {
		t.Errorf("Assertion = %+v, want factor fac_1, count 2, UV", as)
	}
	if webauthn.CounterRegressed(st.SignCount, as.SignCount) {
		t.Errorf("CounterRegressed(%d, %d) = true", st.SignCount, as.SignCount)
	}

	// A bad signature and a foreign origin are refused.
	c, _, _ = rp.BeginLogin(u, webauthn.Requirements{}, nil)
	resp, _ = a.Get(c.Options)
	var m map[string]any
	json.Unmarshal(resp, &m)
	m["response"].(map[string]any)["signature"] = "MEUCIQDx"
	bad, _ := json.Marshal(m)
	if _, err := rp.FinishLogin(u, c.Session, bad, webauthn.Requirements{}); !errors.Is(err, webauthn.ErrVerification) {
		t.Errorf("FinishLogin(bad signature) = %v, want ErrVerification", err)
	}
	a.Origin = "https://evil.example.net"
	resp, _ = a.Get(c.Options)
	if _, err := rp.FinishLogin(u, c.Session, resp, webauthn.Requirements{}); !errors.Is(err, webauthn.ErrVerification) {
		t.Errorf("FinishLogin(wrong origin) = %v, want ErrVerification", err)
	}
}

func TestCounterRegressed(t *testing.T) {
	tests := []struct {
		stored, next uint32
		want         bool
	}{
		{0, 0, false}, {0, 1, false}, {5, 6, false}, {5, 5, true}, {5, 4, true}, {5, 0, true},
	}
	for _, tt := range tests {
		if got := webauthn.CounterRegressed(tt.stored, tt.next); got != tt.want {
			t.Errorf("CounterRegressed(%d, %d) = %v, want %v", tt.stored, tt.next, got, tt.want)
		}
	}
}

func TestRequirements(t *testing.T) {
	tests := []struct {
		name string
		a    webauthntest.Authenticator
		req  webauthn.Requirements
		// wantReg is nil when registration must succeed.
		wantReg error
	}{
		{"uv required, given", webauthntest.Authenticator{UserVerified: true}, webauthn.Requirements{UserVerification: true}, nil},
		{"uv required, missing", webauthntest.Authenticator{}, webauthn.Requirements{UserVerification: true}, webauthn.ErrVerification},
		{"device bound, synced passkey", webauthntest.Authenticator{BackupEligible: true, BackedUp: true}, webauthn.Requirements{DeviceBound: true}, webauthn.ErrPolicy},
		{"device bound, hardware key", webauthntest.Authenticator{}, webauthn.Requirements{DeviceBound: true}, nil},
		{"attestation, none given", webauthntest.Authenticator{AAGUID: testAAGUID}, webauthn.Requirements{Attestation: true, AllowedAAGUIDs: []string{testAAGUIDString}}, webauthn.ErrPolicy},
		{"attestation, approved model", webauthntest.Authenticator{AAGUID: testAAGUID, Attest: true}, webauthn.Requirements{Attestation: true, AllowedAAGUIDs: []string{testAAGUIDString}}, nil},
		{"attestation, other model", webauthntest.Authenticator{AAGUID: [16]byte{1}, Attest: true}, webauthn.Requirements{Attestation: true, AllowedAAGUIDs: []string{testAAGUIDString}}, webauthn.ErrPolicy},
		{"attestation, zero aaguid", webauthntest.Authenticator{Attest: true}, webauthn.Requirements{Attestation: true, AllowedAAGUIDs: []string{testAAGUIDString}}, webauthn.ErrPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := mustRP(t)
			a := tt.a
			a.Origin = origin
			u := webauthn.User{Handle: []byte("usr_bob"), Name: "bob"}
			st, _, err := register(t, rp, &a, u, tt.req)
			if tt.wantReg != nil {
				if !errors.Is(err, tt.wantReg) {
					t.Fatalf("FinishRegistration = %v, want %v", err, tt.wantReg)
				}
				return
			}
			if err != nil {
				t.Fatalf("FinishRegistration: %v", err)
			}
			// The same requirements hold at each login.
			u.Credentials = []webauthn.Stored{st}
			c, _, _ := rp.BeginLogin(u, tt.req, nil)
			resp, _ := a.Get(c.Options)
			if _, err := rp.FinishLogin(u, c.Session, resp, tt.req); err != nil {
				t.Errorf("FinishLogin: %v", err)
			}
			// A requirement added after registration refuses the key at login.
			stricter := tt.req
			stricter.Attestation, stricter.AllowedAAGUIDs = true, []string{"00000000-0000-0000-0000-00000000abcd"}
			c, _, _ = rp.BeginLogin(u, stricter, nil)
			resp, _ = a.Get(c.Options)
			if _, err := rp.FinishLogin(u, c.Session, resp, stricter); !errors.Is(err, webauthn.ErrPolicy) {
				t.Errorf("FinishLogin under a stricter allow-list = %v, want ErrPolicy", err)
			}
		})
	}
}

// TestVerifyReceipt re-verifies a stored transaction-bound assertion, and
// refuses it when any part of the transaction or the signature changed.
func TestVerifyReceipt(t *testing.T) {
	rp := mustRP(t)
	a := &webauthntest.Authenticator{Origin: origin, UserVerified: true}
	u := webauthn.User{Handle: []byte("usr_carol"), Name: "carol"}
	st, _, err := register(t, rp, a, u, webauthn.Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	u.Credentials = []webauthn.Stored{st}
	tx := webauthn.Transaction{Action: "order.approve", OrderID: "ord_1", Total: 1250000, Currency: "USD"}
	c, nonce, err := rp.BeginLogin(u, webauthn.Requirements{}, &tx)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := a.Get(c.Options)
	as, err := rp.FinishLogin(u, c.Session, resp, webauthn.Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	r := as.Receipt
	r.Nonce, r.Transaction = nonce, &tx
	// Through JSON, as the audit log stores it.
	stored, _ := json.Marshal(r)
	var back webauthn.Receipt
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	if err := webauthn.VerifyReceipt(back, rp.ID(), rp.Origins()); err != nil {
		t.Fatalf("VerifyReceipt(stored receipt) = %v, want nil", err)
	}
	tests := []struct {
		name   string
		change func(r *webauthn.Receipt)
	}{
		{"total", func(r *webauthn.Receipt) { r.Transaction.Total++ }},
		{"currency", func(r *webauthn.Receipt) { r.Transaction.Currency = "EUR" }},
		{"order", func(r *webauthn.Receipt) { r.Transaction.OrderID = "ord_2" }},
		{"action", func(r *webauthn.Receipt) { r.Transaction.Action = "order.modify_terms" }},
		{"nonce", func(r *webauthn.Receipt) { r.Nonce = append([]byte{1}, r.Nonce[1:]...) }},
		{"signature", func(r *webauthn.Receipt) { r.Signature[len(r.Signature)-1] ^= 1 }},
		{"rp id", func(r *webauthn.Receipt) { r.RPID = "other.example" }},
		{"no transaction", func(r *webauthn.Receipt) { r.Transaction = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r webauthn.Receipt
			json.Unmarshal(stored, &r)
			tt.change(&r)
			rpID := rp.ID()
			if tt.name == "rp id" {
				rpID = r.RPID
			}
			if err := webauthn.VerifyReceipt(r, rpID, rp.Origins()); !errors.Is(err, webauthn.ErrVerification) {
				t.Errorf("VerifyReceipt(changed %s) = %v, want ErrVerification", tt.name, err)
			}
		})
	}
}
