package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwa "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/webauthn"
	"github.com/ordergate/ordergate/internal/testenv"
	"github.com/ordergate/ordergate/internal/web"
)

// fakeOrders is the order look-up of step-up tests.
type fakeOrders map[string]struct {
	total    int64
	currency string
}

func (f fakeOrders) OrderAmount(ctx context.Context, id string) (int64, string, error) {
	o, ok := f[id]
	if !ok {
		return 0, "", ordergate.Errorf(ordergate.ENOTFOUND, "order not found")
	}
	return o.total, o.currency, nil
}

// webauthnServer starts a server with WebAuthn on a real port, whose
// origin is http://localhost:PORT (the RP ID must be the page's host).
func webauthnServer(t *testing.T) (*auth.Service, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	clock := newFakeClock()
	db := MustOpenDB(t, clock)
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, MustOpenKeyring(t), clock, log)
	svc.Policy.MandatoryRoles = []string{auth.RoleAdmin}
	svc.Policy.TrustedNetworks = nil // 127.0.0.1 is remote: everyone needs a second factor
	rp, err := webauthn.New(base, "ordergate test")
	if err != nil {
		t.Fatal(err)
	}
	svc.WebAuthn = &auth.WebAuthn{RP: rp, Store: db, PasswordlessRoles: []string{auth.RoleClerk},
		UserVerificationRoles: []string{auth.RoleAdmin},
		Orders:                fakeOrders{"ord_1": {1250000, "USD"}}}
	MustCreateUser(t, svc, "alice", alicePassword)
	if _, err := svc.CreateUser(context.Background(), ordergate.SystemActor,
		auth.NewUser{Username: "adam", Password: alicePassword, Roles: []string{auth.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: web.NewServer(svc, db, web.NewMetrics(), log).Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return svc, base
}

// jsResult is what a call of the page's ordergateWebAuthn functions gave.
type jsResult map[string]any

func (r jsResult) str(k string) string { s, _ := r[k].(string); return s }

// call runs a JavaScript expression yielding a Promise in the page and
// returns its JSON, or {"error": code} when it rejected.
func call(t *testing.T, ctx context.Context, expr string) jsResult {
	t.Helper()
	js := fmt.Sprintf(`(%s).then(r => JSON.stringify(r), e => JSON.stringify({error: e.code || e.name, message: e.message}))`, expr)
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var r jsResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s: answer %q: %v", expr, out, err)
	}
	return r
}

// passwordLogin signs in with a password and returns the session token.
func passwordLogin(t *testing.T, ctx context.Context, user, wantState string) string {
	t.Helper()
	r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.post("/api/v1/login", {username: %q, password: %q})`, user, alicePassword))
	if r.str("state") != wantState {
		t.Fatalf("login %s: %v, want state %s", user, r, wantState)
	}
	return r.str("session_token")
}

// TestWebAuthnBrowser drives the WebAuthn endpoints from headless Chromium
// with a CDP virtual authenticator: register a key as second factor, sign
// in with it, step up bound to an order, sign in passwordless with the
// passkey, and see a bogus signature, a missing user verification and an
// authenticator off the allow-list refused.
func TestWebAuthnBrowser(t *testing.T) {
	svc, base := webauthnServer(t)
	// The first Run starts the browser: no deadline on it.
	browser := testenv.Browser(t, base+"/login")
	ctx, cancelCtx := context.WithTimeout(browser, 3*time.Minute)
	defer cancelCtx()
	// The authenticator belongs to the tab; presence simulation must be
	// set explicitly (Go's false would be sent and create() would hang).
	authID := testenv.VirtualAuthenticator(t, ctx, cdpwa.VirtualAuthenticatorOptions{
		Protocol: cdpwa.AuthenticatorProtocolCtap2, Ctap2version: cdpwa.Ctap2versionCtap21, Transport: cdpwa.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true})
	override := func(bogusSignature, badUV bool) {
		t.Helper()
		_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
			return cdp.Call(ctx, tg, cdpwa.SetResponseOverrideBits, cdpwa.SetResponseOverrideBitsParams{
				AuthenticatorID: authID, IsBogusSignature: &bogusSignature, IsBadUV: &badUV})
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Register from an enrollment session (remote access needs a second
	// factor and alice has none): the answer signs her in at AAL2.
	token := passwordLogin(t, ctx, "alice", auth.LoginEnrollmentRequired)
	reg := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.register("Laptop", %q)`, token))
	if reg.str("id") == "" || reg.str("name") != "Laptop" || reg.str("state") != auth.LoginAuthenticated || reg["aal"] != 2.0 {
		t.Fatalf("register = %v, want id, name Laptop, authenticated at aal 2", reg)
	}
	listed := call(t, ctx, fmt.Sprintf(`fetch("/api/v1/me/factors", {headers: {Authorization: "Bearer " + %q}}).then(r => r.json()).then(a => ({n: a.length, type: a[0].type, name: a[0].name}))`, reg.str("session_token")))
	if listed["n"] != 1.0 || listed.str("type") != auth.MethodWebAuthn || listed.str("name") != "Laptop" {
		t.Errorf("GET /api/v1/me/factors = %v, want the one webauthn factor named Laptop", listed)
	}

	// Sign in with the key as second factor.
	token = passwordLogin(t, ctx, "alice", auth.LoginMFARequired)
	login := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.login(%q)`, token))
	if login.str("state") != auth.LoginAuthenticated || login["aal"] != 2.0 {
		t.Fatalf("login with key = %v, want authenticated at aal 2", login)
	}
	active := login.str("session_token")
	sess, _, err := svc.Authenticate(context.Background(), active)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sess.Auth.AMR); got != "[pwd hwk user]" {
		t.Errorf("amr after key login = %s, want [pwd hwk user]", got)
	}

	// Step up for the approval of an order: the receipt re-verifies and
	// covers the order's total and currency.
	step := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.stepUp("order.approve", "ord_1", %q)`, active))
	rb, _ := json.Marshal(step["receipt"])
	var receipt webauthn.Receipt
	if err := json.Unmarshal(rb, &receipt); err != nil || receipt.Transaction == nil {
		t.Fatalf("step-up = %v (%v), want a receipt with a transaction", step, err)
	}
	if got, want := *receipt.Transaction, (webauthn.Transaction{Action: "order.approve", OrderID: "ord_1", Total: 1250000, Currency: "USD"}); got != want {
		t.Errorf("receipt transaction = %+v, want %+v", got, want)
	}
	if err := webauthn.VerifyReceipt(receipt, "localhost", []string{base}); err != nil {
		t.Errorf("VerifyReceipt(browser step-up) = %v", err)
	}
	receipt.Transaction.Total = 1
	if err := webauthn.VerifyReceipt(receipt, "localhost", []string{base}); err == nil {
		t.Errorf("VerifyReceipt with another total succeeded")
	}
	if r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.stepUp("order.approve", "ord_404", %q)`, active)); r.str("error") != ordergate.ENOTFOUND {
		t.Errorf("step-up for an unknown order = %v, want not_found", r)
	}

	// Passwordless: the passkey alone, with user verification.
	pk := call(t, ctx, `ordergateWebAuthn.passkey()`)
	if pk.str("state") != auth.LoginAuthenticated || pk["aal"] != 2.0 {
		t.Errorf("passkey sign-in = %v, want authenticated at aal 2", pk)
	}
	// It set the session cookie; end that session so the password logins
	// below do not ride on it.
	call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.post("/api/v1/logout", undefined, %q)`, pk.str("session_token")))

	// A bogus signature is refused.
	override(true, false)
	token = passwordLogin(t, ctx, "alice", auth.LoginMFARequired)
	if r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.login(%q)`, token)); r.str("error") != ordergate.ECODE {
		t.Errorf("login with a bogus signature = %v, want %s", r, ordergate.ECODE)
	}
	override(false, false)

	// adam's role requires user verification: without the UV flag he is refused.
	token = passwordLogin(t, ctx, "adam", auth.LoginEnrollmentRequired)
	if r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.register("Key", %q)`, token)); r.str("state") != auth.LoginAuthenticated {
		t.Fatalf("adam register = %v", r)
	}
	override(false, true)
	token = passwordLogin(t, ctx, "adam", auth.LoginMFARequired)
	if r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.login(%q)`, token)); r.str("error") != ordergate.ECODE {
		t.Errorf("login without user verification, role requires it = %v, want %s", r, ordergate.ECODE)
	}
	override(false, false)
	// An allow-list of approved models now applies to clerks: alice's key
	// (registered without attestation) is refused at login, and a new
	// registration is refused too.
	svc.WebAuthn.AttestationRoles = []string{auth.RoleClerk}
	svc.WebAuthn.AllowedAAGUIDs = []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}
	token = passwordLogin(t, ctx, "alice", auth.LoginMFARequired)
	if r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.login(%q)`, token)); r.str("error") != ordergate.ECODE {
		t.Errorf("login with a key off the allow-list = %v, want %s", r, ordergate.ECODE)
	}
	MustCreateUser(t, svc, "carl", alicePassword)
	token = passwordLogin(t, ctx, "carl", auth.LoginEnrollmentRequired)
	if r := call(t, ctx, fmt.Sprintf(`ordergateWebAuthn.register("Key", %q)`, token)); r.str("error") != ordergate.EFORBIDDEN {
		t.Errorf("register a model off the allow-list = %v, want %s", r, ordergate.EFORBIDDEN)
	}
}
