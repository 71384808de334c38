package storetest

import (
	"slices"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

func testHardwareTokens(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "hilda", "clerk")
	tok := func(serial, kind string) *auth.HardwareToken {
		return &auth.HardwareToken{Serial: serial, Kind: kind, Manufacturer: "Acme", Secret: []byte("sealed-" + serial),
			Params: []byte(`{"Digits":6}`), Counter: 5}
	}
	ev := audit.Event{Action: "hardware_token.imported", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}
	if err := db.ImportHardwareTokens(ctx, []*auth.HardwareToken{tok("A1", "hotp"), tok("T1", "totp")}, ev); err != nil {
		t.Fatalf("ImportHardwareTokens: %v", err)
	}
	// A file with one serial taken imports nothing.
	err := db.ImportHardwareTokens(ctx, []*auth.HardwareToken{tok("B1", "hotp"), tok("A1", "hotp")}, ev)
	if got := ordergate.ErrorCode(err); got != ordergate.ECONFLICT {
		t.Errorf("ImportHardwareTokens(taken serial) code = %q, want %q", got, ordergate.ECONFLICT)
	}
	if _, err := db.HardwareToken(ctx, "B1"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("B1 of a refused import was stored: HardwareToken(B1) err = %v", err)
	}
	list, err := db.HardwareTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for _, x := range list {
		serials = append(serials, x.Serial)
	}
	if !slices.Equal(serials, []string{"A1", "T1"}) {
		t.Errorf("HardwareTokens serials = %v, want [A1 T1]", serials)
	}
	got, err := db.HardwareToken(ctx, "A1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != "hotp" || got.Counter != 5 || string(got.Secret) != "sealed-A1" || got.FactorID != "" || !got.AssignedAt.IsZero() {
		t.Errorf("HardwareToken(A1) = %+v, want unassigned hotp, counter 5", got)
	}

	f := &auth.Factor{ID: "fac_hw1", UserID: u.ID, Type: "hotp", Name: "Hardware token A1", Secret: []byte("sealed-f"),
		Params: got.Params, Confirmed: true, LastUsedStep: got.Counter - 1}
	aev := audit.Event{Action: "hardware_token.assigned", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor, SubjectID: u.ID}
	if err := db.AssignHardwareToken(ctx, "A1", f, aev); err != nil {
		t.Fatalf("AssignHardwareToken: %v", err)
	}
	again := &auth.Factor{ID: "fac_hw2", UserID: u.ID, Type: "hotp", Name: "again", Confirmed: true}
	if err := db.AssignHardwareToken(ctx, "A1", again, aev); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("AssignHardwareToken(assigned) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}
	if _, err := db.Factor(ctx, u.ID, "fac_hw2"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("factor of a refused assignment was stored: err = %v", err)
	}
	if err := db.AssignHardwareToken(ctx, "Z9", again, aev); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("AssignHardwareToken(unknown) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
	got, _ = db.HardwareToken(ctx, "A1")
	if got.FactorID != "fac_hw1" || got.Username != "hilda" || got.UserID != u.ID || got.AssignedAt.IsZero() {
		t.Errorf("assigned token = %+v, want factor fac_hw1 of hilda", got)
	}
	fac, err := db.Factor(ctx, u.ID, "fac_hw1")
	if err != nil {
		t.Fatal(err)
	}
	if !fac.Confirmed || fac.LastUsedStep != 4 || fac.Type != "hotp" {
		t.Errorf("token's factor = %+v, want confirmed hotp with last used counter 4", fac)
	}
	// Counters move forward once: the HOTP replay guard.
	for _, c := range []struct {
		counter int64
		want    bool
	}{{5, true}, {5, false}, {4, false}, {9, true}, {7, false}} {
		ok, err := db.UseTOTPStep(ctx, "fac_hw1", c.counter, fac.CreatedAt)
		if err != nil || ok != c.want {
			t.Errorf("UseTOTPStep(counter %d) = %v, %v; want %v", c.counter, ok, err, c.want)
		}
	}
	methods, err := db.EnrolledMethods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(methods[u.ID], []string{"totp"}) {
		t.Errorf("EnrolledMethods[hilda] = %v, want [totp] for a hardware HOTP token", methods[u.ID])
	}
	// Removing the factor frees the token, which remembers it was assigned.
	if err := db.DeleteFactor(ctx, u.ID, "fac_hw1"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.HardwareToken(ctx, "A1")
	if got.FactorID != "" || got.Username != "" || got.AssignedAt.IsZero() {
		t.Errorf("token after its factor was removed = %+v, want unassigned with AssignedAt kept", got)
	}
	n := 0
	if err := db.AllHardwareTokenSecrets(ctx, func(serial string, sealed []byte) error {
		n++
		return db.UpdateHardwareTokenSecret(ctx, serial, append([]byte("re"), sealed...))
	}); err != nil || n != 2 {
		t.Errorf("AllHardwareTokenSecrets visited %d, err %v; want 2, nil", n, err)
	}
	if got, _ := db.HardwareToken(ctx, "T1"); string(got.Secret) != "resealed-T1" {
		t.Errorf("token secret after UpdateHardwareTokenSecret = %q, want %q", got.Secret, "resealed-T1")
	}
}
