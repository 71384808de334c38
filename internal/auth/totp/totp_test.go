package totp

import (
	"bytes"
	"image/png"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/testenv"
)

// RFC 6238 Appendix B seeds: the ASCII string "1234567890" repeated to the
// hash's block-size key length.
var (
	seed1   = []byte("12345678901234567890")
	seed256 = []byte("12345678901234567890123456789012")
	seed512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestCodeRFC6238(t *testing.T) {
	tests := []struct {
		unix int64
		alg  Algorithm
		want string
	}{
		{59, SHA1, "94287082"},
		{59, SHA256, "46119246"},
		{59, SHA512, "90693936"},
		{1111111109, SHA1, "07081804"},
		{1111111109, SHA256, "68084774"},
		{1111111109, SHA512, "25091201"},
		{1111111111, SHA1, "14050471"},
		{1111111111, SHA256, "67062674"},
		{1111111111, SHA512, "99943326"},
		{1234567890, SHA1, "89005924"},
		{1234567890, SHA256, "91819424"},
		{1234567890, SHA512, "93441116"},
		{2000000000, SHA1, "69279037"},
		{2000000000, SHA256, "90698825"},
		{2000000000, SHA512, "38618901"},
		{20000000000, SHA1, "65353130"},
		{20000000000, SHA256, "77737706"},
		{20000000000, SHA512, "47863826"},
	}
	seeds := map[Algorithm][]byte{SHA1: seed1, SHA256: seed256, SHA512: seed512}
	for _, tt := range tests {
		t.Run(string(tt.alg)+"/"+time.Unix(tt.unix, 0).UTC().Format(time.RFC3339), func(t *testing.T) {
			p := Params{Algorithm: tt.alg, Digits: 8, Period: 30 * time.Second}
			at := time.Unix(tt.unix, 0)
			if got := Code(seeds[tt.alg], at, p); got != tt.want {
				t.Errorf("Code(%d) = %q, want %q", tt.unix, got, tt.want)
			}
			// The 6-digit code is the low six digits of the same number.
			p.Digits = 6
			if got, want := Code(seeds[tt.alg], at, p), tt.want[2:]; got != want {
				t.Errorf("Code(%d, 6 digits) = %q, want %q", tt.unix, got, want)
			}
			step, ok := Verify(seeds[tt.alg], tt.want, at, Params{Algorithm: tt.alg, Digits: 8, Period: 30 * time.Second}, 0)
			if got, want := step, tt.unix/30; !ok || got != want {
				t.Errorf("Verify(%d) = (%d, %v), want (%d, true)", tt.unix, got, ok, want)
			}
		})
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix   int64
		period time.Duration
		want   int64
	}{
		{0, 30 * time.Second, 0},
		{29, 30 * time.Second, 0},
		{30, 30 * time.Second, 1},
		{59, 30 * time.Second, 1},
		{1700000000, 30 * time.Second, 56666666},
		{1700000000, 60 * time.Second, 28333333},
		{-1, 30 * time.Second, -1},
		{-30, 30 * time.Second, -1},
		{-31, 30 * time.Second, -2},
	}
	for _, tt := range tests {
		p := Params{Algorithm: SHA1, Digits: 6, Period: tt.period}
		if got := Step(time.Unix(tt.unix, 0), p); got != tt.want {
			t.Errorf("Step(%d, %v) = %d, want %d", tt.unix, tt.period, got, tt.want)
		}
	}
}

func TestVerifyWindow(t *testing.T) {
	p := DefaultParams
	// Step 56666666 spans [1699999980, 1700000010).
	base := time.Unix(1699999980, 0)
	const step = 56666666
	code := Code(seed1, base, p)
	tests := []struct {
		name     string
		at       time.Time
		lastUsed int64
		wantStep int64
		wantOK   bool
	}{
		{"same step, first second", base, 0, step, true},
		{"same step, last second", base.Add(29 * time.Second), 0, step, true},
		{"one step late, first second", base.Add(30 * time.Second), 0, step, true},
		{"one step late, last second", base.Add(59 * time.Second), 0, step, true},
		{"two steps late", base.Add(60 * time.Second), 0, 0, false},
		{"one step early, first second", base.Add(-30 * time.Second), 0, step, true},
		{"one step early, last second", base.Add(-1 * time.Second), 0, step, true},
		{"two steps early", base.Add(-31 * time.Second), 0, 0, false},
		{"replay of the same step", base, step, 0, false},
		{"a later step was used", base, step + 1, 0, false},
		{"the step before was used", base, step - 1, step, true},
		{"replay one step later", base.Add(30 * time.Second), step, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotStep, gotOK := Verify(seed1, code, tt.at, p, tt.lastUsed)
			if gotStep != tt.wantStep || gotOK != tt.wantOK {
				t.Errorf("Verify = (%d, %v), want (%d, %v)", gotStep, gotOK, tt.wantStep, tt.wantOK)
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	p := DefaultParams
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	code := Code(secret, now, p)
	step, ok := Verify(secret, code, now, p, 0)
	if !ok {
		t.Fatalf("first Verify failed")
	}
	// The same code, tried again at any time while it could still be valid,
	// is refused once its step is recorded.
	for _, d := range []time.Duration{0, 5 * time.Second, 30 * time.Second, 45 * time.Second} {
		if _, ok := Verify(secret, code, now.Add(d), p, step); ok {
			t.Errorf("Verify accepted a replayed code %v later", d)
		}
	}
	// The next code is accepted.
	next := Code(secret, now.Add(30*time.Second), p)
	if got, ok := Verify(secret, next, now.Add(30*time.Second), p, step); !ok || got != step+1 {
		t.Errorf("Verify(next) = (%d, %v), want (%d, true)", got, ok, step+1)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Unix(1700000000, 0)
	p := DefaultParams
	good := Code(seed1, now, p)
	tests := []struct {
		name   string
		secret []byte
		code   string
		p      Params
	}{
		{"wrong code", seed1, wrongCode(good), p},
		{"too short", seed1, good[:5], p},
		{"too long", seed1, good + "0", p},
		{"spaces", seed1, good[:3] + " " + good[3:], p},
		{"empty secret", nil, good, p},
		{"other secret", seed256, good, p},
		{"bad params", seed1, good, Params{Algorithm: "MD5", Digits: 6, Period: 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := Verify(tt.secret, tt.code, now, tt.p, 0); ok {
				t.Errorf("Verify(%q) = ok, want refused", tt.code)
			}
		})
	}
}

func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestValidFormat(t *testing.T) {
	tests := []struct {
		code string
		p    Params
		want bool
	}{
		{"123456", DefaultParams, true},
		{"000000", DefaultParams, true},
		{"12345", DefaultParams, false},
		{"1234567", DefaultParams, false},
		{"12345a", DefaultParams, false},
		{"123 456", DefaultParams, false},
		{"١٢٣٤٥٦", DefaultParams, false}, // Arabic-Indic digits
		{"", DefaultParams, false},
		{"12345678", Params{Algorithm: SHA1, Digits: 8, Period: 30 * time.Second}, true},
	}
	for _, tt := range tests {
		if got := ValidFormat(tt.code, tt.p); got != tt.want {
			t.Errorf("ValidFormat(%q, %d) = %v, want %v", tt.code, tt.p.Digits, got, tt.want)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		p    Params
		want bool
	}{
		{DefaultParams, true},
		{Params{Algorithm: SHA512, Digits: 8, Period: 60 * time.Second}, true},
		{Params{Algorithm: "sha1", Digits: 6, Period: 30 * time.Second}, false},
		{Params{Algorithm: SHA1, Digits: 7, Period: 30 * time.Second}, false},
		{Params{Algorithm: SHA1, Digits: 6, Period: 0}, false},
		{Params{Algorithm: SHA1, Digits: 6, Period: 1500 * time.Millisecond}, false},
	}
	for _, tt := range tests {
		if got := tt.p.Validate() == nil; got != tt.want {
			t.Errorf("%+v.Validate() ok = %v, want %v", tt.p, got, tt.want)
		}
		if !tt.want {
			if got := Code(seed1, time.Unix(59, 0), tt.p); got != "" {
				t.Errorf("Code with %+v = %q, want \"\"", tt.p, got)
			}
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if got, want := len(a), 20; got != want {
		t.Errorf("len(NewSecret()) = %d, want %d", got, want)
	}
	if bytes.Equal(a, b) {
		t.Errorf("two secrets are equal")
	}
}

func TestURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	tests := []struct {
		issuer, account string
		p               Params
		want            string
	}{
		{"ordergate", "alice", DefaultParams,
			"otpauth://totp/ordergate:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ordergate&algorithm=SHA1&digits=6&period=30"},
		{"Order Gate", "alice@example.com", Params{Algorithm: SHA256, Digits: 8, Period: 60 * time.Second},
			"otpauth://totp/Order%20Gate:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Order%20Gate&algorithm=SHA256&digits=8&period=60"},
		{"a:b&c", "x/y?z", DefaultParams,
			"otpauth://totp/a%3Ab%26c:x%2Fy%3Fz?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=a%3Ab%26c&algorithm=SHA1&digits=6&period=30"},
	}
	for _, tt := range tests {
		got := URI(tt.issuer, tt.account, secret, tt.p)
		if got != tt.want {
			t.Errorf("URI(%q, %q) = %q, want %q", tt.issuer, tt.account, got, tt.want)
		}
		// It parses back to the same parts.
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("url.Parse: %v", err)
		}
		if got, want := u.Query().Get("issuer"), tt.issuer; got != want {
			t.Errorf("issuer = %q, want %q", got, want)
		}
		if got, want := strings.TrimPrefix(u.Path, "/"), tt.issuer+":"+tt.account; got != want {
			t.Errorf("label = %q, want %q", got, want)
		}
	}
}

func TestQRPNG(t *testing.T) {
	b, err := QRPNG(URI("ordergate", "alice", seed1, DefaultParams))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	if got, want := img.Bounds().Dx(), 256; got != want {
		t.Errorf("width = %d, want %d", got, want)
	}
	if _, err := QRPNG(""); err == nil {
		t.Errorf("QRPNG(\"\") err = nil, want an error")
	}
}

// TestOathtool checks codes against oath-toolkit's oathtool, an independent
// implementation. It skips when oathtool is not installed, except in CI.
func TestOathtool(t *testing.T) {
	path := testenv.Tool(t, "oathtool")
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	tests := []Params{
		{Algorithm: SHA1, Digits: 6, Period: 30 * time.Second},
		{Algorithm: SHA1, Digits: 8, Period: 30 * time.Second},
		{Algorithm: SHA256, Digits: 6, Period: 30 * time.Second},
		{Algorithm: SHA256, Digits: 8, Period: 60 * time.Second},
		{Algorithm: SHA512, Digits: 6, Period: 30 * time.Second},
		{Algorithm: SHA512, Digits: 8, Period: 30 * time.Second},
	}
	for _, p := range tests {
		name := string(p.Algorithm) + "/" + strconv.Itoa(p.Digits) + "/" + p.Period.String()
		t.Run(name, func(t *testing.T) {
			for _, d := range []time.Duration{0, 17 * time.Second, 24 * time.Hour} {
				now := at.Add(d)
				out, err := exec.Command(path,
					"--totp="+strings.ToLower(string(p.Algorithm)), "-b",
					"-d", strconv.Itoa(p.Digits),
					"-s", p.Period.String(),
					"--now", now.Format("2006-01-02 15:04:05 UTC"),
					EncodeSecret(secret)).Output()
				if err != nil {
					t.Fatalf("oathtool: %v", err)
				}
				want := strings.TrimSpace(string(out))
				if got := Code(secret, now, p); got != want {
					t.Errorf("Code(%s) = %q, oathtool says %q", now, got, want)
				}
				if _, ok := Verify(secret, want, now, p, 0); !ok {
					t.Errorf("Verify(oathtool code at %s) refused", now)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	secret, _ := NewSecret()
	now := time.Unix(1700000000, 0)
	code := Code(secret, now.Add(30*time.Second), DefaultParams)
	for b.Loop() {
		if _, ok := Verify(secret, code, now, DefaultParams, 0); !ok {
			b.Fatal("Verify failed")
		}
	}
}
