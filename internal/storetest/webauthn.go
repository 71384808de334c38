package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// testWebAuthn checks the credential index, the counter rule, clone flags
// and single-use, expiring ceremonies.
func testWebAuthn(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "wendy", "admin")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f := &auth.Factor{UserID: u.ID, Type: auth.MethodWebAuthn, Name: "YubiKey", Params: []byte(`{"credential":{}}`), Confirmed: true}
	c := &auth.WebAuthnCredential{CredentialID: []byte{1, 2, 3, 250}, SignCount: 5}
	ev := audit.Event{Action: "factor.confirmed", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
	if err := db.CreateWebAuthnFactor(ctx, f, c, ev); err != nil {
		t.Fatal(err)
	}
	if f.ID == "" || c.FactorID != f.ID || c.UserID != u.ID {
		t.Fatalf("CreateWebAuthnFactor left factor %q, credential %+v", f.ID, c)
	}
	dup := &auth.Factor{UserID: u.ID, Type: auth.MethodWebAuthn, Name: "again", Confirmed: true}
	if err := db.CreateWebAuthnFactor(ctx, dup, &auth.WebAuthnCredential{CredentialID: []byte{1, 2, 3, 250}}); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("CreateWebAuthnFactor(same credential) code = %q, want conflict", ordergate.ErrorCode(err))
	}
	if fs, _ := db.Factors(ctx, u.ID); len(fs) != 1 || fs[0].Type != auth.MethodWebAuthn || !fs[0].Confirmed || fs[0].Name != "YubiKey" {
		t.Errorf("Factors after a refused duplicate = %+v, want the one key", fs)
	}
	got, err := db.WebAuthnCredentialByID(ctx, []byte{1, 2, 3, 250})
	if err != nil || got.FactorID != f.ID || got.SignCount != 5 || got.UserID != u.ID {
		t.Errorf("WebAuthnCredentialByID = %+v, %v", got, err)
	}
	if _, err := db.WebAuthnCredentialByID(ctx, []byte{9}); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("WebAuthnCredentialByID(unknown) code = %q, want not_found", ordergate.ErrorCode(err))
	}

	// The counter only moves forward, once per value, across goroutines.
	counters := []struct {
		count uint32
		want  bool
	}{{5, false}, {4, false}, {6, true}, {6, false}, {100, true}}
	for _, tt := range counters {
		if ok, err := db.UseWebAuthnCredential(ctx, f.ID, tt.count, now); err != nil || ok != tt.want {
			t.Errorf("UseWebAuthnCredential(%d) = %v, %v; want %v", tt.count, ok, err, tt.want)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.UseWebAuthnCredential(ctx, f.ID, 101, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("8 concurrent uses of counter 101: %d accepted, want 1", wins)
	}
	if fs, _ := db.Factors(ctx, u.ID); !fs[0].LastUsedAt.Equal(now) {
		t.Errorf("factor last used %v, want %v", fs[0].LastUsedAt, now)
	}
	if err := db.FlagWebAuthnClone(ctx, f.ID, ev); err != nil {
		t.Fatal(err)
	}
	if cs, _ := db.WebAuthnCredentials(ctx, u.ID); len(cs) != 1 || !cs[0].CloneSuspected || cs[0].SignCount != 101 {
		t.Errorf("WebAuthnCredentials after flag = %+v", cs)
	}
	if ok, _ := db.UseWebAuthnCredential(ctx, f.ID, 500, now); ok {
		t.Errorf("a flagged credential's counter moved")
	}

	// A counterless authenticator (0 → 0) is accepted every time.
	g := &auth.Factor{UserID: u.ID, Type: auth.MethodWebAuthn, Name: "passkey", Params: []byte(`{}`), Confirmed: true}
	if err := db.CreateWebAuthnFactor(ctx, g, &auth.WebAuthnCredential{CredentialID: []byte{7}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if ok, err := db.UseWebAuthnCredential(ctx, g.ID, 0, now); !ok || err != nil {
			t.Errorf("use %d of a counterless credential = %v, %v; want true", i, ok, err)
		}
	}
	// Removing the factor removes its credential.
	if err := db.DeleteFactor(ctx, u.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WebAuthnCredentialByID(ctx, []byte{7}); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("credential of a removed factor still found: %v", err)
	}

	// Ceremonies: single use, bound to kind and session, expiring. Saving
	// forgets ceremonies expired by the store's clock, so these use it.
	now = time.Now().UTC().Truncate(time.Microsecond)
	cer := &auth.Ceremony{ID: "chal1", Kind: auth.CeremonyLogin, SessionID: "sess1", UserID: u.ID, Data: []byte(`{"a":1}`), ExpiresAt: now.Add(5 * time.Minute)}
	if err := db.SaveCeremony(ctx, cer); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveCeremony(ctx, &auth.Ceremony{ID: "chal2", Kind: auth.CeremonyPasskey, ExpiresAt: now.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	takes := []struct {
		name, id, kind, session string
		at                      time.Time
		want                    string // error code, "" for success
	}{
		{"other session", "chal1", auth.CeremonyLogin, "sess2", now, ordergate.ENOTFOUND},
		{"other kind", "chal1", auth.CeremonyStepUp, "sess1", now, ordergate.ENOTFOUND},
		{"right", "chal1", auth.CeremonyLogin, "sess1", now.Add(time.Minute), ""},
		{"replayed", "chal1", auth.CeremonyLogin, "sess1", now.Add(time.Minute), ordergate.ENOTFOUND},
		{"expired", "chal2", auth.CeremonyPasskey, "", now.Add(5 * time.Minute), ordergate.ENOTFOUND},
		{"expired, then gone", "chal2", auth.CeremonyPasskey, "", now, ordergate.ENOTFOUND},
	}
	for _, tt := range takes {
		got, err := db.TakeCeremony(ctx, tt.id, tt.kind, tt.session, tt.at)
		if code := ordergate.ErrorCode(err); code != tt.want {
			t.Errorf("TakeCeremony(%s) code = %q, want %q", tt.name, code, tt.want)
			continue
		}
		if tt.want == "" && (got.UserID != u.ID || string(got.Data) != `{"a":1}` || !got.ExpiresAt.Equal(cer.ExpiresAt)) {
			t.Errorf("TakeCeremony(%s) = %+v", tt.name, got)
		}
	}
}
