package sms

import (
	"strings"
	"testing"

	"github.com/ordergate/ordergate"
)

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidFormat(c) {
			t.Fatalf("NewCode() = %q, want %d digits", c, Digits)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Errorf("200 codes gave only %d distinct values", len(seen))
	}
}

func TestValidFormat(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"123456", true},
		{"000000", true},
		{"12345", false},
		{"1234567", false},
		{"12345a", false},
		{"", false},
		{"１２３４５６", false},
	}
	for _, tt := range tests {
		if got := ValidFormat(tt.code); got != tt.want {
			t.Errorf("ValidFormat(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h := Hash(key, "smc_1", "123456")
	if strings.Contains(h, "123456") || len(h) != 64 {
		t.Errorf("Hash = %q, want 64 hex characters not holding the code", h)
	}
	tests := []struct {
		name     string
		key      []byte
		id, code string
		want     bool
	}{
		{"same", key, "smc_1", "123456", true},
		{"other code", key, "smc_1", "123457", false},
		{"other challenge", key, "smc_2", "123456", false},
		{"other key", []byte("another key of thirty-two bytes!"), "smc_1", "123456", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Equal(tt.key, tt.id, tt.code, h); got != tt.want {
				t.Errorf("Equal(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, region string
		want       string
		wantCode   string
	}{
		{"+14155550100", "", "+14155550100", ""},
		{" +1 (415) 555-0100 ", "", "+14155550100", ""},
		{"(415) 555-0100", "US", "+14155550100", ""},
		{"+49 170 1234567", "", "+491701234567", ""},
		{"0170 1234567", "de", "+491701234567", ""},
		{"+33 6 12 34 56 78", "", "+33612345678", ""},
		{"4155550100", "", "", ordergate.EUNPROCESSABLE},                   // no country
		{"+1415555010", "", "", ordergate.EUNPROCESSABLE},                  // too short
		{"+999123456789", "", "", ordergate.EUNPROCESSABLE},                // no such country code
		{"call me", "", "", ordergate.EUNPROCESSABLE},                      // not a number
		{"", "", "", ordergate.EUNPROCESSABLE},                             // empty
		{"+18005550100", "", "", ordergate.EUNPROCESSABLE},                 // toll free
		{"+442079460000", "", "", ordergate.EUNPROCESSABLE},                // UK landline
		{"+1" + strings.Repeat("5", 40), "", "", ordergate.EUNPROCESSABLE}, // absurdly long
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in, tt.region)
		if code := ordergate.ErrorCode(err); code != tt.wantCode || got != tt.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q, code %q", tt.in, tt.region, got, err, tt.want, tt.wantCode)
			continue
		}
		if err != nil {
			var e *ordergate.Error
			e, _ = err.(*ordergate.Error)
			if e == nil || e.Fields["phone"] == "" {
				t.Errorf("Normalize(%q) error %v does not name phone", tt.in, err)
			}
		}
	}
}

func TestMask(t *testing.T) {
	if got, want := Mask("+14155550100"), "+1415•••0100"; got != want {
		t.Errorf("Mask = %q, want %q", got, want)
	}
	if got := Mask("+1"); strings.Contains(got, "+1") {
		t.Errorf("Mask(short) = %q leaks digits", got)
	}
}

func TestMessage(t *testing.T) {
	got := Message("123456", "oms.example.com")
	if !strings.Contains(got, "123456") || !strings.HasSuffix(got, "@oms.example.com #123456") {
		t.Errorf("Message = %q, want the code and the origin-bound line", got)
	}
}
