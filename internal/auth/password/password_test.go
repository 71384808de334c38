package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ordergate/ordergate"
)

// fast are cheap parameters so that tests do not spend seconds hashing.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashFormat(t *testing.T) {
	phc, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if got, want := phc[:len("$argon2id$v=19$m=19456,t=2,p=1$")], "$argon2id$v=19$m=19456,t=2,p=1$"; got != want {
		t.Errorf("Hash prefix = %q, want %q", got, want)
	}
	if strings.Contains(phc, "correct") {
		t.Errorf("Hash = %q contains the password", phc)
	}
	got, err := ParsePHC(phc)
	if err != nil {
		t.Fatalf("ParsePHC: %v", err)
	}
	if want := DefaultParams; got != want {
		t.Errorf("ParsePHC = %+v, want %+v", got, want)
	}
	other, _ := Hash("correct horse battery staple")
	if other == phc {
		t.Errorf("two hashes of one password are equal; salt not random")
	}
}

func TestVerify(t *testing.T) {
	stronger := fast
	stronger.Time = 2
	phc, err := fast.Hash("s3cret passphrase")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		params     Params
		pw         string
		ok, rehash bool
	}{
		{"match", fast, "s3cret passphrase", true, false},
		{"wrong", fast, "s3cret passphrasE", false, false},
		{"empty", fast, "", false, false},
		{"match, params raised", stronger, "s3cret passphrase", true, true},
		{"wrong, params raised", stronger, "nope", false, false},
		// NFKC: a fullwidth "ｓ" normalizes to "s".
		{"normalized", fast, "\uff533cret passphrase", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := tt.params.Verify(tt.pw, phc)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.ok || rehash != tt.rehash {
				t.Errorf("Verify = (%v, %v), want (%v, %v)", ok, rehash, tt.ok, tt.rehash)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, _ := fast.Hash("pw")
	parts := strings.Split(good, "$")
	tests := []struct {
		name string
		phc  string
	}{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"version", strings.Replace(good, "v=19", "v=16", 1)},
		{"param order", "$argon2id$v=19$t=1,m=64,p=1$" + parts[4] + "$" + parts[5]},
		{"huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5]},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5]},
		{"bad salt", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5]},
		{"short hash", "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA"},
		{"extra field", good + "$x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := fast.Verify("pw", tt.phc)
			if got, want := errors.Is(err, ErrMalformedHash), true; got != want || ok {
				t.Errorf("Verify(%q) = (%v, %v), want (false, ErrMalformedHash)", tt.phc, ok, err)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams, true},
		{"zero", Params{}, false},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}, false},
		{"memory below 8*threads", Params{Memory: 8, Time: 1, Threads: 4, SaltLen: 16, KeyLen: 32}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.p.Validate() == nil, tt.ok; got != want {
				t.Errorf("Validate() ok = %v, want %v", got, want)
			}
			if !tt.ok {
				if _, err := tt.p.Hash("pw"); !errors.Is(err, ErrInvalidParams) {
					t.Errorf("Hash err = %v, want ErrInvalidParams", err)
				}
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	// VerifyDummy must not panic, even with unusable parameters.
	fast.VerifyDummy("anything")
	Params{}.VerifyDummy("anything")
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		pw, user string
		reason   string // "" means accepted
	}{
		{"ok passphrase", "correct horse battery staple", "alice", ""},
		{"ok 8 chars", "tX9#qLm2", "alice", ""},
		{"ok no composition rules", "lowercaseonlywords", "alice", ""},
		{"7 chars", "tX9#qLm", "alice", ReasonTooShort},
		{"empty", "", "alice", ReasonTooShort},
		// Eight code points is enough, whatever their byte length.
		{"8 runes unicode", "ĉĝĥĵŝŭĉĝ", "alice", ""},
		// "ﬀ" (U+FB00) is one rune but NFKC makes it "ff", two.
		{"nfkc expands to 8", "ﬀgh3kp9", "alice", ""},
		{"256 runes", strings.Repeat("abcz", 64), "alice", ""},
		{"257 runes", strings.Repeat("abcz", 64) + "q", "alice", ReasonTooLong},
		{"common", "iloveyou", "alice", ReasonCommon},
		{"common mixed case", "PassWord1", "alice", ReasonCommon},
		{"common digits", "12345678", "alice", ReasonCommon},
		{"common qwerty", "qwertyuiop", "alice", ReasonCommon},
		{"username", "alice.smith", "alice.smith", ReasonUsername},
		{"username case", "Alice.Smith", "alice.smith", ReasonUsername},
		{"service name", "OrderGate", "alice", ReasonContext},
		{"repeated", "zzzzzzzzzzzz", "alice", ReasonRepetitive},
		{"sequential", "klmnopqrs", "alice", ReasonRepetitive},
		{"descending", "987654321098", "alice", ""}, // wraps, so not one run
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.pw, tt.user)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if got, want := ordergate.ErrorCode(err), ordergate.EINVALID; got != want {
				t.Fatalf("ErrorCode(Check()) = %q, want %q", got, want)
			}
			var e *ordergate.Error
			errors.As(err, &e)
			if got, want := e.Fields["password"], tt.reason; got != want {
				t.Errorf("Fields[password] = %q, want %q", got, want)
			}
			if tt.pw != "" && strings.Contains(err.Error()+e.Message, tt.pw) {
				t.Errorf("error %q echoes the password", err)
			}
		})
	}
}

// TestCommonList checks the embedded list that common searches: sorted
// bytewise without duplicates (else the search misses entries), lower
// case, each line long enough to pass the length check, and every entry
// found while its neighbours in the byte order are not.
func TestCommonList(t *testing.T) {
	if !strings.HasSuffix(commonList, "\n") {
		t.Fatal("common.txt does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(commonList, "\n"), "\n")
	if len(lines) < 10000 {
		t.Errorf("common.txt has %d lines, want the whole list (over 10,000)", len(lines))
	}
	for i, l := range lines {
		if i > 0 && lines[i-1] >= l {
			t.Errorf("line %d %q does not sort after %q", i+1, l, lines[i-1])
		}
		if strings.ToLower(l) != l || utf8.RuneCountInString(l) < MinLength {
			t.Errorf("line %d %q is not lower case or shorter than %d", i+1, l, MinLength)
		}
		if !common(l) {
			t.Errorf("common(%q) = false, want true", l)
		}
		for _, near := range []string{l[:len(l)-1], l + "\x00", l + "~"} {
			if common(near) && !slices.Contains(lines, near) {
				t.Errorf("common(%q) = true, want false", near)
			}
		}
	}
	for _, s := range []string{"", "\n", "!", "~~~~~~~~~~~~", "correct horse battery staple"} {
		if common(s) {
			t.Errorf("common(%q) = true, want false", s)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	phc, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, _ := Verify("correct horse battery staple", phc); !ok {
			b.Fatal("Verify failed")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
}

func BenchmarkVerifyDummy(b *testing.B) {
	for b.Loop() {
		VerifyDummy("correct horse battery staple")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
}
