package pskc_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth/pskc"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// figure6PSK is the pre-shared key of RFC 6030 §6.1, Figure 6.
var figure6PSK, _ = hex.DecodeString("12345678901234567890123456789012")

// rfc4226Key is the seed of RFC 4226 Appendix D and RFC 6238 Appendix B.
const rfc4226Key = "12345678901234567890"

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRFC6030(t *testing.T) {
	hotp8 := func(serial, id string) pskc.Key {
		return pskc.Key{Manufacturer: "TokenVendorAcme", SerialNo: serial, ID: id, Issuer: "Issuer", Kind: pskc.HOTP,
			Algorithm: totp.SHA1, Digits: 8, Secret: []byte(rfc4226Key), TimeInterval: 30 * time.Second}
	}
	tests := []struct {
		file string
		psk  []byte
		want []pskc.Key
	}{
		{"rfc6030-figure2.pskcxml", nil, []pskc.Key{{Path: "KeyPackage[1]/Key", ID: "12345678", Issuer: "Issuer-A", Kind: pskc.HOTP,
			Algorithm: totp.SHA1, Digits: 6, Secret: []byte("1234"), TimeInterval: 30 * time.Second}}},
		{"rfc6030-figure3.pskcxml", nil, []pskc.Key{{Path: "KeyPackage[1]/Key", Manufacturer: "Manufacturer", SerialNo: "987654321",
			ID: "12345678", Issuer: "Issuer", Kind: pskc.HOTP, Algorithm: totp.SHA1, Digits: 8, Secret: []byte(rfc4226Key),
			TimeInterval: 30 * time.Second}}},
		{"rfc6030-figure6.pskcxml", figure6PSK, []pskc.Key{{Path: "KeyPackage[1]/Key", Manufacturer: "Manufacturer", SerialNo: "987654321",
			ID: "12345678", Issuer: "Issuer", Kind: pskc.HOTP, Algorithm: totp.SHA1, Digits: 8, Secret: []byte(rfc4226Key),
			TimeInterval: 30 * time.Second}}},
		{"rfc6030-figure10.pskcxml", nil, func() []pskc.Key {
			ks := []pskc.Key{hotp8("654321", "1"), hotp8("123456", "2"), hotp8("9999999", "3"), hotp8("9999999", "4")}
			for i := range ks {
				ks[i].Path = "KeyPackage[" + string(rune('1'+i)) + "]/Key"
			}
			return ks
		}()},
		{"totp-sha1.pskcxml", nil, []pskc.Key{{Path: "KeyPackage[1]/Key", Manufacturer: "TokenVendorAcme", SerialNo: "TOTP-0001",
			ID: "totp1", Issuer: "Issuer", Kind: pskc.TOTP, Algorithm: totp.SHA1, Digits: 8, Secret: []byte(rfc4226Key),
			TimeInterval: 30 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := pskc.Parse(read(t, tt.file), tt.psk)
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tt.file, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Parse(%s) = %d keys, want %d", tt.file, len(got), len(tt.want))
			}
			for i := range got {
				if !equalKey(got[i], tt.want[i]) {
					t.Errorf("Parse(%s) key %d = %+v, want %+v", tt.file, i, redact(got[i]), redact(tt.want[i]))
				}
			}
		})
	}
}

func equalKey(a, b pskc.Key) bool {
	return bytes.Equal(a.Secret, b.Secret) && reflect.DeepEqual(redact(a), redact(b))
}

func redact(k pskc.Key) pskc.Key {
	k.Secret = nil
	return k
}

// TestFigure6Codes checks the decrypted Figure 6 seed against the first
// HOTP value of RFC 4226 Appendix D (8 digits: 84755224).
func TestFigure6Codes(t *testing.T) {
	keys, err := pskc.Parse(read(t, "rfc6030-figure6.pskcxml"), figure6PSK)
	if err != nil {
		t.Fatal(err)
	}
	p := totp.Params{Algorithm: keys[0].Algorithm, Digits: keys[0].Digits, Period: 30 * time.Second}
	if got, want := totp.CounterCode(keys[0].Secret, keys[0].Counter, p), "84755224"; got != want {
		t.Errorf("first code of Figure 6's key = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	fig6 := string(read(t, "rfc6030-figure6.pskcxml"))
	fig10 := string(read(t, "rfc6030-figure10.pskcxml"))
	fig3 := string(read(t, "rfc6030-figure3.pskcxml"))
	wrongPSK, _ := hex.DecodeString("12345678901234567890123456789013")
	// nthReplace replaces the n-th occurrence (1-based) of old.
	nthReplace := func(s, old, new string, n int) string {
		i := -1
		for range n {
			j := strings.Index(s[i+1:], old)
			if j < 0 {
				t.Fatalf("occurrence %d of %q not found", n, old)
			}
			i += j + 1
		}
		return s[:i] + new + s[i+len(old):]
	}
	tests := []struct {
		name string
		doc  string
		psk  []byte
		// field is the element the error must name; problem, when set,
		// what it must say about it.
		field, problem string
	}{
		{"wrong pre-shared key", fig6, wrongPSK, "KeyPackage[1]/Key/Data/Secret", pskc.ProblemMAC},
		{"changed ValueMAC", strings.Replace(fig6, "Su+NvtQf", "Su+NvtQe", 1), figure6PSK, "KeyPackage[1]/Key/Data/Secret", pskc.ProblemMAC},
		{"changed ciphertext", strings.Replace(fig6, "AAECAwQFBgcICQoLDA0OD+cI", "AAECAwQFBgcICQoLDA0OD+cJ", 1), figure6PSK,
			"KeyPackage[1]/Key/Data/Secret", pskc.ProblemMAC},
		{"changed MAC key", strings.Replace(fig6, "ESIzRFVm", "ESIzRFVn", 1), figure6PSK, "KeyPackage[1]/Key/Data/Secret", pskc.ProblemMAC},
		{"no pre-shared key given", fig6, nil, "KeyContainer/EncryptionKey", ""},
		{"pre-shared key of the wrong size", fig6, figure6PSK[:15], "KeyContainer/MACMethod/MACKey/EncryptionMethod/@Algorithm", ""},
		{"no ValueMAC", regexpCut(fig6, "<ValueMAC>", "</ValueMAC>"), figure6PSK, "KeyPackage[1]/Key/Data/Secret/ValueMAC", ""},
		{"no MACMethod", regexpCut(fig6, "<MACMethod", "</MACMethod>"), figure6PSK, "KeyContainer/MACMethod", ""},
		{"unknown MAC algorithm", strings.Replace(fig6, "xmldsig#hmac-sha1", "xmldsig#hmac-zha9", 1), figure6PSK, "KeyContainer/MACMethod/@Algorithm", ""},
		{"3DES", strings.Replace(fig6, "xmlenc#aes128-cbc\"/>\n                        <xenc:CipherData>", "xmlenc#tripledes-cbc\"/>\n                        <xenc:CipherData>", 1),
			figure6PSK, "KeyPackage[1]/Key/Data/Secret/EncryptedValue/EncryptionMethod/@Algorithm", ""},
		{"secret of the second package not base64", nthReplace(fig10, "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", "MTIzNDU2*zg5MDEyMzQ1Njc4OTA=", 2), nil,
			"KeyPackage[2]/Key/Data/Secret/PlainValue", ""},
		{"third package without a secret", nthReplace(nthReplace(fig10, "<Secret>", "<Seed>", 3), "</Secret>", "</Seed>", 3), nil, "KeyPackage[3]/Key/Data/Secret", ""},
		{"counter not a number", strings.Replace(fig3, "<PlainValue>0</PlainValue>", "<PlainValue>-1</PlainValue>", 1), nil,
			"KeyPackage[1]/Key/Data/Counter/PlainValue", ""},
		{"seven digits", strings.Replace(fig3, `Length="8"`, `Length="7"`, 1), nil, "KeyPackage[1]/Key/AlgorithmParameters/ResponseFormat/@Length", ""},
		{"hexadecimal codes", strings.Replace(fig3, `"DECIMAL"`, `"HEXADECIMAL"`, 1), nil, "KeyPackage[1]/Key/AlgorithmParameters/ResponseFormat/@Encoding", ""},
		{"PIN algorithm", strings.Replace(fig3, "pskc:hotp", "pskc:pin", 1), nil, "KeyPackage[1]/Key/@Algorithm", ""},
		{"no Key", regexpCut(fig3, "<Key Id", "</Key>"), nil, "KeyPackage[1]/Key", ""},
		{"two values", strings.Replace(fig3, "<PlainValue>0</PlainValue>", "<PlainValue>0</PlainValue><EncryptedValue/>", 1), nil,
			"KeyPackage[1]/Key/Data/Counter", ""},
		{"wrong version", strings.Replace(fig3, `Version="1.0"`, `Version="2.0"`, 1), nil, "KeyContainer/@Version", ""},
		{"not XML", "hello", nil, "KeyContainer", ""},
		{"truncated", fig3[:len(fig3)/2], nil, "KeyContainer", ""},
		{"another root", `<Keys Version="1.0"/>`, nil, "KeyContainer", ""},
		{"no KeyPackage", `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>`, nil, "KeyContainer/KeyPackage", ""},
		{"passphrase-based key", strings.Replace(fig6, "<ds:KeyName>Pre-shared-key</ds:KeyName>", "<DerivedKey/>", 1), figure6PSK,
			"KeyContainer/EncryptionKey", ""},
		{"encrypted value in a plain document", regexpCut(regexpCut(fig6, "<EncryptionKey>", "</EncryptionKey>"), "<MACMethod", "</MACMethod>"), nil,
			"KeyPackage[1]/Key/Data/Secret/EncryptedValue", ""},
		{"TOTP interval of an hour", strings.Replace(string(read(t, "totp-sha1.pskcxml")), "<PlainValue>30</PlainValue>", "<PlainValue>3600</PlainValue>", 1), nil,
			"KeyPackage[1]/Key/Data/TimeInterval", ""},
		{"HOTP with SHA-256", strings.Replace(fig3, "<ResponseFormat", "<Suite>HMAC-SHA256</Suite><ResponseFormat", 1), nil,
			"KeyPackage[1]/Key/AlgorithmParameters/Suite", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := pskc.Parse([]byte(tt.doc), tt.psk)
			if err == nil {
				t.Fatalf("Parse() = %d keys, want an error naming %s", len(keys), tt.field)
			}
			if keys != nil {
				t.Errorf("Parse() returned %d keys with its error, want none", len(keys))
			}
			var e *ordergate.Error
			if !errors.As(err, &e) || e.Code != ordergate.EINVALID {
				t.Fatalf("Parse() error = %v, want an %s ordergate error", err, ordergate.EINVALID)
			}
			problem, ok := e.Fields[tt.field]
			if !ok {
				t.Fatalf("Parse() error fields = %v, want %s", e.Fields, tt.field)
			}
			if tt.problem != "" && problem != tt.problem {
				t.Errorf("Parse() problem with %s = %q, want %q", tt.field, problem, tt.problem)
			}
			if strings.Contains(err.Error(), "MTIzNDU2") || strings.Contains(err.Error(), rfc4226Key) {
				t.Errorf("Parse() error holds the secret: %v", err)
			}
		})
	}
}

// regexpCut removes from s the first text from start through end.
func regexpCut(s, start, end string) string {
	i := strings.Index(s, start)
	j := strings.Index(s[i:], end)
	if i < 0 || j < 0 {
		panic("cut markers not found: " + start)
	}
	return s[:i] + s[i+j+len(end):]
}

// FuzzParse checks that Parse never panics, and that what it returns is
// either keys fit to use or an EINVALID error naming one element.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pskcxml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := pskc.Parse(doc, figure6PSK)
		if err != nil {
			var e *ordergate.Error
			if !errors.As(err, &e) || e.Code != ordergate.EINVALID || len(e.Fields) != 1 {
				t.Fatalf("Parse error = %#v, want EINVALID naming one element", err)
			}
			if keys != nil {
				t.Fatalf("Parse returned keys with an error")
			}
			return
		}
		if len(keys) == 0 {
			t.Fatalf("Parse returned no keys and no error")
		}
		for _, k := range keys {
			if len(k.Secret) == 0 || (k.Digits != 6 && k.Digits != 8) || (k.Kind != pskc.HOTP && k.Kind != pskc.TOTP) ||
				k.TimeInterval < time.Second || (k.SerialNo == "" && k.ID == "") {
				t.Fatalf("Parse returned an unusable key %+v", redact(k))
			}
		}
	})
}
