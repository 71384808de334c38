package hotp_test

import (
	"testing"

	"github.com/ordergate/ordergate/internal/auth/hotp"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// rfcSecret is the key of RFC 4226 Appendix D: ASCII "12345678901234567890".
var rfcSecret = []byte("12345678901234567890")

// rfcCodes are the HOTP values of Appendix D for counters 0 to 9.
var rfcCodes = []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}

func TestCodeRFC4226(t *testing.T) {
	for c, want := range rfcCodes {
		if got := hotp.Code(rfcSecret, uint64(c), hotp.DefaultParams); got != want {
			t.Errorf("Code(rfc, %d) = %q, want %q", c, got, want)
		}
	}
}

func TestCodeInvalidParams(t *testing.T) {
	for _, p := range []hotp.Params{{Algorithm: totp.SHA1, Digits: 7}, {Algorithm: "MD5", Digits: 6}, {}} {
		if got := hotp.Code(rfcSecret, 0, p); got != "" {
			t.Errorf("Code(%+v) = %q, want empty", p, got)
		}
	}
}

func TestVerifyWindow(t *testing.T) {
	p := hotp.DefaultParams
	tests := []struct {
		name     string
		code     string
		lastUsed int64
		want     int64
		wantOK   bool
	}{
		{"first code of a new token", rfcCodes[0], -1, 0, true},
		{"next counter", rfcCodes[4], 3, 4, true},
		{"ahead by 9, inside the window", rfcCodes[9], -1, 9, true},
		{"ahead by 10, window's last counter", code(11), 1, 11, true},
		{"ahead by 11, outside the window", code(12), 1, 0, false},
		{"replay of the last accepted counter", rfcCodes[4], 4, 0, false},
		{"older counter", rfcCodes[2], 4, 0, false},
		{"wrong code", "000000", -1, 0, false},
		{"malformed code", "75522", -1, 0, false},
		{"letters", "75522a", -1, 0, false},
		{"counter below -1", rfcCodes[0], -2, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := hotp.Verify(rfcSecret, tt.code, tt.lastUsed, p)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Verify(rfc, %q, %d) = %d, %v; want %d, %v", tt.code, tt.lastUsed, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func code(c uint64) string { return hotp.Code(rfcSecret, c, hotp.DefaultParams) }

// TestReplayRefused walks a token through its codes as a server would:
// each accepted counter becomes lastUsed and no code passes twice.
func TestReplayRefused(t *testing.T) {
	last := int64(-1)
	for c := range uint64(30) {
		got, ok := hotp.Verify(rfcSecret, code(c), last, hotp.DefaultParams)
		if !ok || got != int64(c) {
			t.Fatalf("Verify(code %d, last %d) = %d, %v; want %d, true", c, last, got, ok, c)
		}
		last = got
		if _, ok := hotp.Verify(rfcSecret, code(c), last, hotp.DefaultParams); ok {
			t.Fatalf("code of counter %d accepted twice", c)
		}
	}
}

func TestResync(t *testing.T) {
	p := hotp.DefaultParams
	tests := []struct {
		name         string
		code1, code2 string
		lastUsed     int64
		want         int64
		wantOK       bool
	}{
		{"consecutive, 50 ahead", code(50), code(51), -1, 51, true},
		{"consecutive, last of the window", code(100), code(101), 0, 101, true},
		{"consecutive, past the window", code(101), code(102), 0, 0, false},
		{"not consecutive", code(50), code(52), -1, 0, false},
		{"reversed", code(51), code(50), -1, 0, false},
		{"same code twice", code(50), code(50), -1, 0, false},
		{"already used", code(10), code(11), 11, 0, false},
		{"one code only", code(50), "", -1, 0, false},
		{"malformed second", code(50), "12345", -1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := hotp.Resync(rfcSecret, tt.code1, tt.code2, tt.lastUsed, p)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Resync(%q, %q, %d) = %d, %v; want %d, %v", tt.code1, tt.code2, tt.lastUsed, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	// A code far ahead is not accepted alone: only Resync reaches it.
	if _, ok := hotp.Verify(rfcSecret, code(50), -1, p); ok {
		t.Errorf("Verify(code 50, last -1) accepted a code 51 counters ahead")
	}
}

func TestEightDigits(t *testing.T) {
	p := hotp.Params{Algorithm: totp.SHA1, Digits: 8}
	// RFC 4226 Appendix D lists the 31-bit values; 8 digits keep the low
	// eight decimal digits of them: counter 0 gives 1284755224.
	if got := hotp.Code(rfcSecret, 0, p); got != "84755224" {
		t.Errorf("Code(rfc, 0, 8 digits) = %q, want %q", got, "84755224")
	}
	if got, ok := hotp.Verify(rfcSecret, "84755224", -1, p); !ok || got != 0 {
		t.Errorf("Verify(8 digits) = %d, %v; want 0, true", got, ok)
	}
}

func BenchmarkVerify(b *testing.B) {
	want := code(9)
	for b.Loop() {
		if _, ok := hotp.Verify(rfcSecret, want, -1, hotp.DefaultParams); !ok {
			b.Fatal("no match")
		}
	}
}
