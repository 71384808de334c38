package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/hotp"
	"github.com/ordergate/ordergate/internal/auth/pskc"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// MethodHOTP is the factor type of an event-based hardware token (RFC
// 4226). Its codes are entered like an authenticator app's, so for login,
// step-up and policy it is the totp method, with amr "otp".
const MethodHOTP = "hotp"

// MinTokenSecret is the shortest seed Import accepts, in bytes: RFC 4226
// requires 128 bits (and NIST SP 800-63B 112).
const MinTokenSecret = 16

// HardwareToken is an OATH token (HOTP or TOTP) imported from a PSKC
// file. It is unassigned until an administrator assigns it to a user,
// which makes it a confirmed factor of that user.
type HardwareToken struct {
	// Serial is the device's serial number (PSKC DeviceInfo/SerialNo),
	// "SERIAL/KEYID" when one file holds several keys of one device.
	Serial       string
	Kind         string // MethodHOTP or MethodTOTP
	Manufacturer string
	// Secret is the seed sealed with HardwareTokenAAD(Serial); never
	// plaintext.
	Secret []byte
	// Params holds hotp.Params or totp.Params as JSON.
	Params []byte
	// Counter is, for HOTP, the token's next counter when it was imported.
	Counter int64
	// FactorID is the factor the token was assigned as; empty while
	// unassigned (or again after its factor was removed).
	FactorID string
	// UserID and Username are the factor's user.
	UserID     string
	Username   string
	ImportedAt time.Time
	// AssignedAt is when the token was last assigned; zero when never.
	AssignedAt time.Time
}

// HardwareTokenAAD binds an unassigned token's sealed seed to its row.
func HardwareTokenAAD(serial string) []byte { return []byte("hardware_token:" + serial) }

// TokenStore keeps hardware tokens. Every method that changes something
// appends evs in the same transaction.
type TokenStore interface {
	// UserByUsername returns ENOTFOUND when no such user exists.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// ImportHardwareTokens stores every token or none; ECONFLICT when a
	// serial is taken.
	ImportHardwareTokens(ctx context.Context, ts []*HardwareToken, evs ...audit.Event) error
	// HardwareToken returns ENOTFOUND when no token has serial.
	HardwareToken(ctx context.Context, serial string) (*HardwareToken, error)
	// HardwareTokens lists every token by serial.
	HardwareTokens(ctx context.Context) ([]*HardwareToken, error)
	// AssignHardwareToken stores f, a confirmed factor whose LastUsedStep
	// is kept, and links the token to it. ECONFLICT when the token is
	// assigned already; ENOTFOUND when there is no such token.
	AssignHardwareToken(ctx context.Context, serial string, f *Factor, evs ...audit.Event) error
	// Factor is FactorStore's: ENOTFOUND unless the factor exists and
	// belongs to userID.
	Factor(ctx context.Context, userID, id string) (*Factor, error)
	// UseTOTPStep is FactorStore's: it moves a factor's last used step or
	// counter forward, never back, and reports whether it did.
	UseTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error)
	// AppendAudit appends events to the audit chain.
	AppendAudit(ctx context.Context, evs ...audit.Event) error
}

// Tokens imports hardware tokens and assigns them to users: the
// administration side of hardware OATH tokens. Signing in with one is the
// Service's verifyFactor.
type Tokens struct {
	Store  TokenStore
	Sealer Sealer
	Clock  ordergate.Clock
}

// Import reads a PSKC document (psk is its pre-shared key, nil when its
// values are plain) and stores each key's seed sealed as an unassigned
// token: all of them or, on any error, none. Errors: EINVALID naming the
// element at fault (a wrong psk: "MAC check failed"), ECONFLICT for a
// serial imported before.
func (t *Tokens) Import(ctx context.Context, actor ordergate.Actor, doc, psk []byte) ([]*HardwareToken, error) {
	keys, err := pskc.Parse(doc, psk)
	if err != nil {
		return nil, err
	}
	defer func() {
		for i := range keys {
			clear(keys[i].Secret)
		}
	}()
	perDevice := map[string]int{}
	for _, k := range keys {
		perDevice[k.SerialNo]++
	}
	now := t.Clock.Now()
	var out []*HardwareToken
	var serials []string
	for _, k := range keys {
		if len(k.Secret) < MinTokenSecret {
			return nil, ordergate.FieldError(ordergate.EINVALID, k.Path+"/Data/Secret",
				fmt.Sprintf("%d bits; a token's seed needs at least %d", 8*len(k.Secret), 8*MinTokenSecret))
		}
		serial := k.SerialNo
		switch {
		case serial == "":
			serial = k.ID
		case perDevice[serial] > 1:
			if k.ID == "" {
				return nil, ordergate.FieldError(ordergate.EINVALID, k.Path+"/@Id",
					"missing, and the device "+k.SerialNo+" has several keys in this file")
			}
			serial += "/" + k.ID
		}
		if len(serial) > 128 || strings.ContainsFunc(serial, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, ordergate.FieldError(ordergate.EINVALID, strings.TrimSuffix(k.Path, "/Key")+"/DeviceInfo/SerialNo",
				"longer than 128 characters or holds control characters")
		}
		if slices.Contains(serials, serial) {
			return nil, ordergate.FieldError(ordergate.EINVALID, strings.TrimSuffix(k.Path, "/Key")+"/DeviceInfo/SerialNo",
				"serial "+serial+" appears twice in the file")
		}
		tok := &HardwareToken{Serial: serial, Manufacturer: k.Manufacturer, ImportedAt: now}
		switch k.Kind {
		case pskc.HOTP:
			if k.Counter >= 1<<62 {
				return nil, ordergate.FieldError(ordergate.EINVALID, k.Path+"/Data/Counter", "too large")
			}
			tok.Kind, tok.Counter = MethodHOTP, int64(k.Counter)
			tok.Params, _ = json.Marshal(hotp.Params{Algorithm: k.Algorithm, Digits: k.Digits})
		case pskc.TOTP:
			tok.Kind = MethodTOTP
			tok.Params, _ = json.Marshal(totp.Params{Algorithm: k.Algorithm, Digits: k.Digits, Period: k.TimeInterval})
		}
		if tok.Secret, err = t.Sealer.Seal(k.Secret, HardwareTokenAAD(serial)); err != nil {
			return nil, err
		}
		out = append(out, tok)
		serials = append(serials, serial)
	}
	ev := audit.Event{At: now, Action: "hardware_token.imported", Outcome: audit.OutcomeOK, Actor: actor,
		Data: map[string]any{"count": len(out), "serials": serials, "encrypted": psk != nil}}
	if err := t.Store.ImportHardwareTokens(ctx, out, ev); err != nil {
		return nil, err
	}
	return out, nil
}

// List returns every token by serial.
func (t *Tokens) List(ctx context.Context) ([]*HardwareToken, error) {
	return t.Store.HardwareTokens(ctx)
}

// Assign makes the token serial a confirmed factor of username: a "hotp"
// factor for an HOTP token, a "totp" factor with the token's own
// parameters for a TOTP one. With one code the token must show it (HOTP:
// within the look-ahead window; TOTP: ±1 step) and it is recorded as
// used; with two consecutive HOTP codes the token is resynchronised
// first. A token assigned before (its factor since removed) needs a code,
// so that codes its last holder used cannot sign in again. Errors:
// ENOTFOUND, ECONFLICT (assigned already), EINVALID, ECODE.
func (t *Tokens) Assign(ctx context.Context, actor ordergate.Actor, serial, username string, codes []string) (*Factor, error) {
	tok, err := t.Store.HardwareToken(ctx, serial)
	if err != nil {
		return nil, err
	}
	if tok.FactorID != "" {
		return nil, ordergate.Errorf(ordergate.ECONFLICT, "token %s is assigned to %s already", serial, tok.Username)
	}
	u, err := t.Store.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	if len(codes) == 0 && !tok.AssignedAt.IsZero() {
		return nil, ordergate.FieldError(ordergate.EINVALID, "code", "the token was assigned before: give a current code")
	}
	seed, err := t.Sealer.Open(tok.Secret, HardwareTokenAAD(tok.Serial))
	if err != nil {
		return nil, fmt.Errorf("open token %s: %w", tok.Serial, err)
	}
	defer clear(seed)
	now := t.Clock.Now()
	f := &Factor{ID: newFactorID(), UserID: u.ID, Type: tok.Kind, Name: "Hardware token " + tok.Serial, Params: tok.Params,
		Confirmed: true, CreatedAt: now}
	if tok.Kind == MethodHOTP {
		f.LastUsedStep = tok.Counter - 1
	}
	if len(codes) > 0 {
		last, ok, err := tokenCheck(tok.Kind, tok.Params, seed, codes, f.LastUsedStep, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ordergate.Errorf(ordergate.ECODE, "the code does not match token %s", serial)
		}
		f.LastUsedStep = last
	}
	if f.Secret, err = t.Sealer.Seal(seed, FactorAAD(f.Type, f.ID)); err != nil {
		return nil, err
	}
	ev := audit.Event{At: now, Action: "hardware_token.assigned", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"serial": tok.Serial, "kind": tok.Kind, "factor_id": f.ID, "codes": len(codes)}}
	if err := t.Store.AssignHardwareToken(ctx, tok.Serial, f, ev); err != nil {
		return nil, err
	}
	return f, nil
}

// Resync moves an assigned HOTP token's counter past two consecutive
// codes that are further ahead than the login window allows (up to
// hotp.ResyncWindow). Errors: ENOTFOUND, EINVALID (not an assigned HOTP
// token), ECODE.
func (t *Tokens) Resync(ctx context.Context, actor ordergate.Actor, serial, code1, code2 string) error {
	tok, err := t.Store.HardwareToken(ctx, serial)
	if err != nil {
		return err
	}
	if tok.Kind != MethodHOTP || tok.FactorID == "" {
		return ordergate.Errorf(ordergate.EINVALID, "token %s is not an assigned HOTP token", serial)
	}
	f, err := t.Store.Factor(ctx, tok.UserID, tok.FactorID)
	if err != nil {
		return err
	}
	seed, err := t.Sealer.Open(f.Secret, FactorAAD(f.Type, f.ID))
	if err != nil {
		return fmt.Errorf("open factor %s: %w", f.ID, err)
	}
	defer clear(seed)
	now := t.Clock.Now()
	last, ok, err := tokenCheck(f.Type, f.Params, seed, []string{code1, code2}, f.LastUsedStep, now)
	if err != nil {
		return err
	}
	if ok {
		ok, err = t.Store.UseTOTPStep(ctx, f.ID, last, now)
		if err != nil {
			return err
		}
	}
	outcome := audit.OutcomeOK
	if !ok {
		outcome = audit.OutcomeFailed
	}
	ev := audit.Event{At: now, Action: "hardware_token.resynced", Outcome: outcome, Actor: actor, SubjectID: f.UserID,
		Data: map[string]any{"serial": tok.Serial, "factor_id": f.ID}}
	if err := t.Store.AppendAudit(ctx, ev); err != nil {
		return err
	}
	if !ok {
		return ordergate.Errorf(ordergate.ECODE, "the codes are not two consecutive codes of token %s", serial)
	}
	return nil
}

// tokenCheck checks codes (one, or two consecutive HOTP codes for a
// resync) against a token's seed, and returns the step or counter to
// record as last used.
func tokenCheck(kind string, params, seed []byte, codes []string, lastUsed int64, now time.Time) (int64, bool, error) {
	for i := range codes {
		codes[i] = strings.Join(strings.Fields(codes[i]), "")
	}
	switch kind {
	case MethodHOTP:
		p, err := hotpParams(params)
		if err != nil {
			return 0, false, err
		}
		switch len(codes) {
		case 1:
			c, ok := hotp.Verify(seed, codes[0], lastUsed, p)
			return c, ok, nil
		case 2:
			c, ok := hotp.Resync(seed, codes[0], codes[1], lastUsed, p)
			return c, ok, nil
		}
	case MethodTOTP:
		p, err := totpParams(&Factor{Params: params})
		if err != nil {
			return 0, false, err
		}
		if len(codes) == 1 {
			s, ok := totp.Verify(seed, codes[0], now, p, lastUsed)
			return s, ok, nil
		}
	}
	return 0, false, ordergate.FieldError(ordergate.EINVALID, "code", "give one code, or two consecutive codes of an HOTP token")
}

// hotpParams reads an HOTP factor's or token's parameters.
func hotpParams(raw []byte) (hotp.Params, error) {
	p := hotp.DefaultParams
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return p, fmt.Errorf("hotp params: %w", err)
		}
	}
	return p, p.Validate()
}
