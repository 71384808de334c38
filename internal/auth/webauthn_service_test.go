package auth_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/webauthn"
	"github.com/ordergate/ordergate/internal/auth/webauthn/webauthntest"
	"github.com/ordergate/ordergate/internal/secret"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

const (
	testOrigin   = "https://og.example.com"
	testPassword = "correct horse battery staple"
)

var ctx = context.Background()

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// webauthnService is a service on real SQLite with WebAuthn for
// testOrigin; clerks may sign in with a passkey.
func webauthnService(t *testing.T) (*auth.Service, *sqlstore.DB, *clock) {
	t.Helper()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	chain, _ := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "og.db"), chain, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.LoadOrCreate(filepath.Join(t.TempDir(), "og.key"))
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.NewService(db, keys, clk, slog.New(slog.DiscardHandler))
	svc.Policy = auth.Policy{MandatoryRoles: []string{auth.RoleAdmin}}
	rp, err := webauthn.New(testOrigin, "test")
	if err != nil {
		t.Fatal(err)
	}
	svc.WebAuthn = &auth.WebAuthn{RP: rp, Store: db, PasswordlessRoles: []string{auth.RoleClerk}}
	return svc, db, clk
}

func mustUser(t *testing.T, svc *auth.Service, name, role string) {
	t.Helper()
	if _, err := svc.CreateUser(ctx, ordergate.SystemActor, auth.NewUser{Username: name, Password: testPassword, Roles: []string{role}}); err != nil {
		t.Fatal(err)
	}
}

// enroll registers a new key of a for name from an enrollment session.
func enroll(t *testing.T, svc *auth.Service, a *webauthntest.Authenticator, name string) {
	t.Helper()
	res, err := svc.Login(ctx, name, testPassword, auth.Client{IP: "192.0.2.1"})
	if err != nil || res.State != auth.LoginEnrollmentRequired {
		t.Fatalf("Login(%s) = %+v, %v; want enrollment_required", name, res, err)
	}
	opts, err := svc.BeginWebAuthnRegistration(ctx, res.Session, res.User, "Key")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := a.Create(opts)
	if _, err := svc.FinishWebAuthnRegistration(ctx, res.Session, res.User, body); err != nil {
		t.Fatalf("FinishWebAuthnRegistration: %v", err)
	}
}

// pending signs name in with the password and begins the key login.
func pending(t *testing.T, svc *auth.Service, name string) (*auth.LoginResult, []byte) {
	t.Helper()
	res, err := svc.Login(ctx, name, testPassword, auth.Client{IP: "192.0.2.1"})
	if err != nil || res.State != auth.LoginMFARequired {
		t.Fatalf("Login(%s) = %+v, %v; want mfa_required", name, res, err)
	}
	opts, err := svc.BeginWebAuthnLogin(ctx, res.Session, res.User)
	if err != nil {
		t.Fatal(err)
	}
	return res, opts
}

func auditCount(t *testing.T, db *sqlstore.DB, action string) int {
	t.Helper()
	n := 0
	err := db.AuditRecords(ctx, 0, func(r audit.Record) bool {
		if r.Action == action {
			n++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWebAuthnCeremonies checks that a ceremony is single-use, bound to the
// session that began it and expires after five minutes.
func TestWebAuthnCeremonies(t *testing.T) {
	svc, _, clk := webauthnService(t)
	mustUser(t, svc, "alice", auth.RoleClerk)
	a := &webauthntest.Authenticator{Origin: testOrigin, UserVerified: true}
	enroll(t, svc, a, "alice")

	res, opts := pending(t, svc, "alice")
	body, _ := a.Get(opts)
	ok, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, body)
	if err != nil || ok.Session.Auth.AAL != ordergate.AAL2 {
		t.Fatalf("FinishWebAuthnLogin = %+v, %v", ok, err)
	}
	if got := ok.Session.Auth.AMR; len(got) != 3 || got[1] != ordergate.AMRHardware || got[2] != ordergate.AMRUser {
		t.Errorf("amr = %v, want [pwd hwk user]", got)
	}

	tests := []struct {
		name string
		// run returns the error of finishing a ceremony.
		run func() error
	}{
		{"replayed response, new session", func() error {
			res2, _ := pending(t, svc, "alice")
			_, err := svc.FinishWebAuthnLogin(ctx, res2.Session, res2.User, body)
			return err
		}},
		{"another session's ceremony", func() error {
			res1, opts1 := pending(t, svc, "alice")
			res2, _ := pending(t, svc, "alice")
			_ = res1
			b, _ := a.Get(opts1)
			_, err := svc.FinishWebAuthnLogin(ctx, res2.Session, res2.User, b)
			return err
		}},
		{"expired ceremony", func() error {
			res, opts := pending(t, svc, "alice")
			clk.Add(auth.CeremonyTTL)
			b, _ := a.Get(opts)
			_, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, b)
			return err
		}},
		{"second finish of one ceremony", func() error {
			res, opts := pending(t, svc, "alice")
			b, _ := a.Get(opts)
			if _, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, b); err != nil {
				t.Fatalf("first finish: %v", err)
			}
			_, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, b)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			// The second finish of one ceremony meets a replaced session.
			if code := ordergate.ErrorCode(err); code != ordergate.ECODE && code != ordergate.EUNAUTHORIZED {
				t.Errorf("error code = %q (%v), want %q", code, err, ordergate.ECODE)
			}
		})
	}
}

// TestWebAuthnCloneSuspected checks that a signature counter that goes
// backwards refuses the login, audits it and marks the credential, which
// is refused from then on.
func TestWebAuthnCloneSuspected(t *testing.T) {
	svc, db, _ := webauthnService(t)
	mustUser(t, svc, "alice", auth.RoleClerk)
	a := &webauthntest.Authenticator{Origin: testOrigin, UserVerified: true}
	enroll(t, svc, a, "alice")
	for range 2 {
		res, opts := pending(t, svc, "alice")
		body, _ := a.Get(opts)
		if _, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, body); err != nil {
			t.Fatal(err)
		}
	}
	// A copy of the key that has signed less often than the original.
	a.Counter = 1
	res, opts := pending(t, svc, "alice")
	body, _ := a.Get(opts)
	if _, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, body); ordergate.ErrorCode(err) != ordergate.ECODE {
		t.Fatalf("login with a counter gone back = %v, want %s", err, ordergate.ECODE)
	}
	if n := auditCount(t, db, "webauthn.clone_suspected"); n != 1 {
		t.Errorf("webauthn.clone_suspected events = %d, want 1", n)
	}
	creds, _ := db.WebAuthnCredentials(ctx, res.User.ID)
	if len(creds) != 1 || !creds[0].CloneSuspected {
		t.Errorf("credentials = %+v, want the one flagged", creds)
	}
	// Even with a counter ahead, the flagged key is no longer offered.
	a.Counter = 1000
	res2, err := svc.Login(ctx, "alice", testPassword, auth.Client{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.BeginWebAuthnLogin(ctx, res2.Session, res2.User); ordergate.ErrorCode(err) != ordergate.EFORBIDDEN {
		t.Errorf("BeginWebAuthnLogin with only a flagged key = %v, want %s", err, ordergate.EFORBIDDEN)
	}
	// A counterless authenticator (always 0) is not a clone.
	mustUser(t, svc, "bob", auth.RoleClerk)
	b := &webauthntest.Authenticator{Origin: testOrigin, FixedCounter: true}
	enroll(t, svc, b, "bob")
	for i := range 2 {
		res, opts := pending(t, svc, "bob")
		body, _ := b.Get(opts)
		if _, err := svc.FinishWebAuthnLogin(ctx, res.Session, res.User, body); err != nil {
			t.Errorf("login %d with a counterless key: %v", i, err)
		}
	}
}

// TestPasskeyPolicy checks passwordless sign-in: allowed for clerks,
// refused for admins, and never without user verification.
func TestPasskeyPolicy(t *testing.T) {
	svc, _, _ := webauthnService(t)
	tests := []struct {
		name, role string
		uv         bool
		want       string // error code, "" for success
	}{
		{"clerk", auth.RoleClerk, true, ""},
		{"clerk without user verification", auth.RoleClerk, false, ordergate.ECODE},
		{"admin", auth.RoleAdmin, true, ordergate.EFORBIDDEN},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := []string{"carol", "dave", "erin"}[i]
			mustUser(t, svc, name, tt.role)
			a := &webauthntest.Authenticator{Origin: testOrigin, UserVerified: true}
			enroll(t, svc, a, name)
			a.UserVerified = tt.uv
			opts, err := svc.BeginPasskeyLogin(ctx, auth.Client{IP: "192.0.2.9"})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := a.Get(opts)
			res, err := svc.FinishPasskeyLogin(ctx, body, auth.Client{IP: "192.0.2.9"})
			if code := ordergate.ErrorCode(err); code != tt.want {
				t.Fatalf("FinishPasskeyLogin code = %q (%v), want %q", code, err, tt.want)
			}
			if tt.want == "" && (res.Session.Auth.AAL != ordergate.AAL2 || res.User.Username != name || len(res.Session.Auth.AMR) != 2) {
				t.Errorf("passkey session = %+v, want %s at AAL2 with amr [hwk user]", res.Session.Auth, name)
			}
		})
	}
}
