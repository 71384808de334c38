package backupcode

import (
	"bytes"
	"errors"
	"math/bits"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

var format = regexp.MustCompile(`^[0-9abcdefghjkmnpqrstvwxyz]{5}-[0-9abcdefghjkmnpqrstvwxyz]{5}$`)

func TestGenerate(t *testing.T) {
	tests := []struct {
		n, want int
	}{
		{0, DefaultCount},
		{1, 1},
		{16, 16},
		{MaxCount, MaxCount},
	}
	for _, tt := range tests {
		codes, err := Generate(tt.n)
		if err != nil {
			t.Fatalf("Generate(%d): %v", tt.n, err)
		}
		if got := len(codes); got != tt.want {
			t.Errorf("len(Generate(%d)) = %d, want %d", tt.n, got, tt.want)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !format.MatchString(c) {
				t.Errorf("code %q does not match %v", c, format)
			}
			if seen[c] {
				t.Errorf("code %q repeated in one set", c)
			}
			seen[c] = true
			if got, ok := Normalize(c); !ok || got != strings.ReplaceAll(c, "-", "") {
				t.Errorf("Normalize(%q) = (%q, %v), want the code without dash", c, got, ok)
			}
		}
	}
}

func TestGenerateCount(t *testing.T) {
	for _, n := range []int{-1, MaxCount + 1} {
		if _, err := Generate(n); !errors.Is(err, ErrCount) {
			t.Errorf("Generate(%d) err = %v, want ErrCount", n, err)
		}
	}
}

func TestGenerateRandomError(t *testing.T) {
	_, err := generate(iotest.ErrReader(errors.New("no entropy")), 3)
	if err == nil {
		t.Fatal("generate with a failing reader: err = nil")
	}
}

func TestGenerateDuplicates(t *testing.T) {
	// A reader that repeats the same 10 bytes, then gives others: Generate
	// must skip the duplicate instead of returning it twice.
	same := bytes.Repeat([]byte{1}, Length)
	other := bytes.Repeat([]byte{2}, Length)
	r := bytes.NewReader(bytes.Join([][]byte{same, same, other}, nil))
	got, err := generate(r, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"11111-11111", "22222-22222"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("generate = %v, want %v", got, want)
	}
}

func TestGenerateUsesAllBits(t *testing.T) {
	// Every character carries 5 bits (50 per code): over many codes each of
	// the 32 symbols appears.
	codes, err := Generate(MaxCount)
	if err != nil {
		t.Fatal(err)
	}
	var mask uint32
	for _, c := range codes {
		for _, r := range strings.ReplaceAll(c, "-", "") {
			mask |= 1 << strings.IndexRune(alphabet, r)
		}
	}
	if got, want := bits.OnesCount32(mask), 32; got != want {
		t.Errorf("symbols seen in %d codes = %d, want %d", len(codes), got, want)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"7k3qx-m9d2a", "7k3qxm9d2a", true},
		{"7K3QX-M9D2A", "7k3qxm9d2a", true},
		{"7k3qxm9d2a", "7k3qxm9d2a", true},
		{" 7k3qx m9d2a ", "7k3qxm9d2a", true},
		{"7k3-qx-m9d-2a", "7k3qxm9d2a", true},
		{"7k3qx\tm9d2a\n", "7k3qxm9d2a", true},
		{"ooooo-iiiii", "0000011111", true},
		{"OOOOO-LLLLL", "0000011111", true},
		{"Il1oO-00000", "1110000000", true},
		{"", "", false},
		{"7k3qx-m9d2", "", false},   // too short
		{"7k3qx-m9d2ab", "", false}, // too long
		{"7k3qx-m9d2u", "", false},  // u is not Crockford
		{"7k3qx_m9d2a", "", false},  // underscore
		{"7k3qx-m9d2á", "", false},  // non-ASCII
		{"7k3qx-m9d2ａ", "", false},  // fullwidth
		{"----------", "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHashVerify(t *testing.T) {
	codes, err := Generate(2)
	if err != nil {
		t.Fatal(err)
	}
	code, other := codes[0], codes[1]
	lookup, phc, err := Hash(code)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if got, want := lookup, code[:LookupLen]; got != want {
		t.Errorf("lookup = %q, want %q", got, want)
	}
	if got, ok := Lookup(strings.ToUpper(code)); !ok || got != lookup {
		t.Errorf("Lookup(upper) = (%q, %v), want (%q, true)", got, ok, lookup)
	}
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"as shown", code, true},
		{"upper case, no dash", strings.ToUpper(strings.ReplaceAll(code, "-", "")), true},
		{"spaces", strings.ReplaceAll(code, "-", " "), true},
		{"other code", other, false},
		{"not a code", "hello", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.input, phc); got != tt.want {
				t.Errorf("Verify(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
	if Verify(code, "not a hash") {
		t.Errorf("Verify against a malformed hash = true")
	}
}

func TestHashDoesNotRevealCode(t *testing.T) {
	code := "7k3qx-m9d2a"
	_, phc1, err := Hash(code)
	if err != nil {
		t.Fatal(err)
	}
	_, phc2, _ := Hash(code)
	if phc1 == phc2 {
		t.Errorf("two hashes of one code are equal; salt not random")
	}
	if strings.Contains(strings.ToLower(phc1), "7k3qxm9d2a") || strings.Contains(phc1, code) {
		t.Errorf("hash %q contains the code", phc1)
	}
	if !strings.HasPrefix(phc1, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Errorf("hash %q is not argon2id with the documented parameters", phc1)
	}
}

func TestHashInvalid(t *testing.T) {
	_, _, err := Hash("secret-ish input")
	if !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("Hash(invalid) err = %v, want ErrInvalidCode", err)
	}
	if strings.Contains(err.Error(), "secret-ish") {
		t.Errorf("error %q echoes the input", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	_, phc, _ := Hash("7k3qx-m9d2a")
	for b.Loop() {
		if !Verify("7k3qx-m9d2a", phc) {
			b.Fatal("Verify failed")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
}
