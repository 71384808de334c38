package auth_test

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/hotp"
	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/secret"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// rfcSeed is the seed of RFC 4226 Appendix D, which the RFC 6030 examples
// carry.
var rfcSeed = []byte("12345678901234567890")

// figure6PSK is the pre-shared key of RFC 6030 §6.1, Figure 6.
var figure6PSK, _ = hex.DecodeString("12345678901234567890123456789012")

const tokenPassword = "correct horse battery staple"

// tokenEnv is a Service and a token inventory on one SQLite database.
type tokenEnv struct {
	svc    *auth.Service
	tokens *auth.Tokens
	db     *sqlstore.DB
	clock  *testClock
}

func newTokenEnv(tb testing.TB, users ...string) *tokenEnv {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	chain, _ := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
	dir := tb.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "og.db"), chain, clock)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	keys, err := secret.LoadOrCreate(filepath.Join(dir, "og.key"))
	if err != nil {
		tb.Fatal(err)
	}
	svc := auth.NewService(db, keys, clock, slog.New(slog.DiscardHandler))
	for _, name := range users {
		if _, err := svc.CreateUser(ctx, ordergate.SystemActor, auth.NewUser{Username: name, Password: tokenPassword,
			Roles: []string{auth.RoleClerk}}); err != nil {
			tb.Fatal(err)
		}
	}
	return &tokenEnv{svc: svc, tokens: &auth.Tokens{Store: db, Sealer: keys, Clock: clock}, db: db, clock: clock}
}

func (e *tokenEnv) importFile(tb testing.TB, name string, psk []byte) []*auth.HardwareToken {
	tb.Helper()
	doc, err := os.ReadFile(filepath.Join("pskc", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := e.tokens.Import(context.Background(), ordergate.SystemActor, doc, psk)
	if err != nil {
		tb.Fatalf("Import(%s): %v", name, err)
	}
	return ts
}

// signIn logs username in with the password and then method and code,
// and returns the active session or the second step's error.
func (e *tokenEnv) signIn(tb testing.TB, username, code string) (*auth.Session, error) {
	tb.Helper()
	ctx := context.Background()
	lr, err := e.svc.Login(ctx, username, tokenPassword, auth.Client{IP: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		tb.Fatalf("Login(%s): %v", username, err)
	}
	if lr.State != auth.LoginMFARequired || !slices.Contains(lr.Methods, auth.MethodTOTP) {
		tb.Fatalf("Login(%s) = %s with methods %v, want mfa_required offering totp", username, lr.State, lr.Methods)
	}
	res, err := e.svc.CompleteLogin(ctx, lr.Session, lr.User, auth.MethodTOTP, code)
	if err != nil {
		return nil, err
	}
	return res.Session, nil
}

func hotp8(c uint64) string {
	return hotp.Code(rfcSeed, c, hotp.Params{Algorithm: totp.SHA1, Digits: 8})
}

func TestHardwareHOTPLogin(t *testing.T) {
	ctx := context.Background()
	e := newTokenEnv(t, "bob")
	ts := e.importFile(t, "rfc6030-figure6.pskcxml", figure6PSK)
	if len(ts) != 1 || ts[0].Serial != "987654321" || ts[0].Kind != auth.MethodHOTP {
		t.Fatalf("Import(figure 6) = %+v, want one hotp token 987654321", ts)
	}
	f, err := e.tokens.Assign(ctx, ordergate.SystemActor, "987654321", "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != auth.MethodHOTP || !f.Confirmed {
		t.Fatalf("Assign = %+v, want a confirmed hotp factor", f)
	}

	steps := []struct {
		name string
		code string
		want string // error code; "" for success
	}{
		{"first counter", hotp8(0), ""},
		{"replay of counter 0", hotp8(0), ordergate.ECODE},
		{"counter 11, beyond the window of 10", hotp8(11), ordergate.ECODE},
		{"counter 10, the window's last", hotp8(10), ""},
		{"counter 9, behind the token", hotp8(9), ordergate.ECODE},
		{"counter 11", hotp8(11), ""},
	}
	for _, st := range steps {
		sess, err := e.signIn(t, "bob", st.code)
		if got := ordergate.ErrorCode(err); got != st.want {
			t.Fatalf("%s: CompleteLogin error code = %q, want %q (err %v)", st.name, got, st.want, err)
		}
		if err == nil && (sess.Auth.AAL != ordergate.AAL2 || !slices.Contains(sess.Auth.AMR, ordergate.AMROTP)) {
			t.Errorf("%s: session aal %d amr %v, want AAL2 with otp", st.name, sess.Auth.AAL, sess.Auth.AMR)
		}
	}

	// The token went 60 presses ahead: two consecutive codes bring it back.
	if err := e.tokens.Resync(ctx, ordergate.SystemActor, "987654321", hotp8(70), hotp8(72)); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Errorf("Resync(not consecutive) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECODE)
	}
	if err := e.tokens.Resync(ctx, ordergate.SystemActor, "987654321", hotp8(71), hotp8(72)); err != nil {
		t.Fatalf("Resync: %v", err)
	}
	if _, err := e.signIn(t, "bob", hotp8(72)); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Errorf("code used for the resync signed in: err %v", err)
	}
	sess, err := e.signIn(t, "bob", hotp8(73))
	if err != nil {
		t.Fatalf("code after the resync: %v", err)
	}

	// Step-up takes the token's next code as the totp method.
	u, _ := e.db.UserByUsername(ctx, "bob")
	e.clock.Add(10 * time.Minute)
	if _, err := e.svc.StepUp(ctx, sess, u, auth.MethodTOTP, hotp8(74), "order.approve", ""); err != nil {
		t.Errorf("StepUp with the token: %v", err)
	}
	if _, err := e.svc.StepUp(ctx, sess, u, auth.MethodTOTP, hotp8(74), "order.approve", ""); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Errorf("StepUp replay code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECODE)
	}
	methods, err := e.svc.LoginMethods(ctx, u)
	if err != nil || !slices.Equal(methods, []string{auth.MethodTOTP}) {
		t.Errorf("LoginMethods = %v, %v; want [totp]", methods, err)
	}
}

func TestHardwareTOTPAssign(t *testing.T) {
	ctx := context.Background()
	e := newTokenEnv(t, "carol")
	e.importFile(t, "totp-sha1.pskcxml", nil)
	p := totp.Params{Algorithm: totp.SHA1, Digits: 8, Period: 30 * time.Second}
	now := e.clock.Now()
	if _, err := e.tokens.Assign(ctx, ordergate.SystemActor, "TOTP-0001", "carol", []string{"12345678"}); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Fatalf("Assign(wrong code) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECODE)
	}
	if tok, _ := e.db.HardwareToken(ctx, "TOTP-0001"); tok.FactorID != "" {
		t.Fatalf("a wrong code assigned the token")
	}
	f, err := e.tokens.Assign(ctx, ordergate.SystemActor, "TOTP-0001", "carol", []string{totp.Code(rfcSeed, now, p)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != auth.MethodTOTP {
		t.Errorf("hardware TOTP factor type = %q, want totp", f.Type)
	}
	if _, err := e.signIn(t, "carol", totp.Code(rfcSeed, now, p)); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Errorf("the code shown at assignment signed in: err %v", err)
	}
	e.clock.Add(30 * time.Second)
	if _, err := e.signIn(t, "carol", totp.Code(rfcSeed, e.clock.Now(), p)); err != nil {
		t.Errorf("next step's code: %v", err)
	}
	if _, err := e.tokens.Assign(ctx, ordergate.SystemActor, "TOTP-0001", "carol", nil); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("Assign(assigned) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}
}

func TestImportRefusals(t *testing.T) {
	ctx := context.Background()
	wrongPSK, _ := hex.DecodeString("00000000000000000000000000000000")
	tests := []struct {
		name  string
		file  string
		psk   []byte
		code  string
		field string
	}{
		{"wrong pre-shared key", "rfc6030-figure6.pskcxml", wrongPSK, ordergate.EINVALID, "KeyPackage[1]/Key/Data/Secret"},
		{"32-bit seed", "rfc6030-figure2.pskcxml", nil, ordergate.EINVALID, "KeyPackage[1]/Key/Data/Secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTokenEnv(t)
			doc, _ := os.ReadFile(filepath.Join("pskc", "testdata", tt.file))
			_, err := e.tokens.Import(ctx, ordergate.SystemActor, doc, tt.psk)
			var oe *ordergate.Error
			if !errors.As(err, &oe) || oe.Code != tt.code || oe.Fields[tt.field] == "" {
				t.Fatalf("Import error = %v, want %s naming %s", err, tt.code, tt.field)
			}
			if ts, _ := e.tokens.List(ctx); len(ts) != 0 {
				t.Errorf("a refused import stored %d tokens", len(ts))
			}
		})
	}

	e := newTokenEnv(t, "dave")
	ts := e.importFile(t, "rfc6030-figure10.pskcxml", nil)
	var serials []string
	for _, tok := range ts {
		serials = append(serials, tok.Serial)
	}
	if want := []string{"654321", "123456", "9999999/3", "9999999/4"}; !slices.Equal(serials, want) {
		t.Errorf("Import(figure 10) serials = %v, want %v", serials, want)
	}
	doc, _ := os.ReadFile(filepath.Join("pskc", "testdata", "rfc6030-figure3.pskcxml"))
	if _, err := e.tokens.Import(ctx, ordergate.SystemActor, doc, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Import(ctx, ordergate.SystemActor, doc, nil); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("second Import of a serial code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}

	// A token whose factor was removed goes back to the inventory, and
	// needs a code to be assigned again, past the counters used before.
	f, err := e.tokens.Assign(ctx, ordergate.SystemActor, "987654321", "dave", []string{hotp8(3)})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := e.db.UserByUsername(ctx, "dave")
	if err := e.db.DeleteFactor(ctx, u.ID, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Assign(ctx, ordergate.SystemActor, "987654321", "dave", nil); ordergate.ErrorCode(err) != ordergate.EINVALID {
		t.Errorf("re-Assign without a code: code = %q, want %q", ordergate.ErrorCode(err), ordergate.EINVALID)
	}
	if _, err := e.tokens.Assign(ctx, ordergate.SystemActor, "987654321", "dave", []string{hotp8(4)}); err != nil {
		t.Errorf("re-Assign with a code: %v", err)
	}
	if _, err := e.signIn(t, "dave", hotp8(3)); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Errorf("a counter used before the re-assignment signed in: err %v", err)
	}
}
