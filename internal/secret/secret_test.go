package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// MustLoad creates a keyring in a fresh temporary directory.
func MustLoad(tb testing.TB) (*Keyring, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "keyring.json")
	k, err := LoadOrCreate(path)
	if err != nil {
		tb.Fatalf("LoadOrCreate: %v", err)
	}
	return k, path
}

// mustRead parses the key file at path.
func mustRead(tb testing.TB, path string) keyFile {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		tb.Fatal(err)
	}
	return kf
}

func TestLoadOrCreate(t *testing.T) {
	k, path := MustLoad(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("key file mode = %#o, want %#o", got, want)
	}
	kf := mustRead(t, path)
	if got, want := len(kf.Keys), 1; got != want {
		t.Fatalf("len(keys) = %d, want %d", got, want)
	}
	if got, want := k.Primary(), kf.Keys[0].ID; got != want || kf.Primary != want {
		t.Errorf("Primary() = %q, file primary %q, want %q", got, kf.Primary, want)
	}
	if kf.Keys[0].CreatedAt.IsZero() {
		t.Errorf("created_at is zero")
	}
	// Loading again reads the same file and does not change it.
	before, _ := os.ReadFile(path)
	k2, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("second LoadOrCreate changed the file")
	}
	sealed, _ := k.Seal([]byte("x"), nil)
	if _, err := k2.Open(sealed, nil); err != nil {
		t.Errorf("reloaded keyring cannot open: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if got, want := len(entries), 1; got != want {
		t.Errorf("directory has %d entries, want %d", got, want)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	var wg sync.WaitGroup
	rings := make([]*Keyring, 8)
	errs := make([]error, len(rings))
	for i := range rings {
		wg.Go(func() { rings[i], errs[i] = LoadOrCreate(path) })
	}
	wg.Wait()
	for i := range rings {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate %d: %v", i, errs[i])
		}
		if got, want := rings[i].Primary(), rings[0].Primary(); got != want {
			t.Errorf("ring %d primary = %q, want %q (one file for all)", i, got, want)
		}
	}
}

func TestSealOpen(t *testing.T) {
	k, _ := MustLoad(t)
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"totp seed", []byte("12345678901234567890"), []byte("totp:f_123")},
		{"empty plaintext", []byte{}, []byte("row:1")},
		{"nil aad", []byte("token"), nil},
		{"binary", []byte{0, 1, 2, 255}, []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := k.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if want := "v1:" + k.Primary() + ":"; !bytes.HasPrefix(sealed, []byte(want)) {
				t.Errorf("Seal = %q, want prefix %q", sealed, want)
			}
			if len(tt.plaintext) > 3 && bytes.Contains(sealed, tt.plaintext) {
				t.Errorf("Seal output contains the plaintext")
			}
			got, err := k.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
	a, _ := k.Seal([]byte("same"), nil)
	b, _ := k.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Errorf("two seals of one plaintext are equal; nonce not random")
	}
}

func TestOpenFails(t *testing.T) {
	k, _ := MustLoad(t)
	sealed, err := k.Seal([]byte("seed"), []byte("totp:1"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		// Change one base64 character in the body.
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return b
	}
	header := len("v1:" + k.Primary() + ":")
	other, _ := MustLoad(t)
	fromOther, _ := other.Seal([]byte("seed"), []byte("totp:1"))
	// The same key id in another keyring (a restored or foreign file).
	foreign := []byte("v1:" + k.Primary() + ":" + strings.SplitN(string(fromOther), ":", 3)[2])
	tests := []struct {
		name   string
		sealed []byte
		aad    []byte
		want   error
	}{
		{"wrong aad", sealed, []byte("totp:2"), ErrOpen},
		{"no aad", sealed, nil, ErrOpen},
		{"tampered nonce", flip(header + 1), []byte("totp:1"), ErrOpen},
		{"tampered ciphertext", flip(header + 20), []byte("totp:1"), ErrOpen},
		{"tampered tag", flip(len(sealed) - 2), []byte("totp:1"), ErrOpen},
		{"truncated", sealed[:len(sealed)-4], []byte("totp:1"), ErrOpen},
		{"too short", sealed[:header+8], []byte("totp:1"), ErrMalformed},
		{"other key", foreign, []byte("totp:1"), ErrOpen},
		{"unknown key id", fromOther, []byte("totp:1"), ErrUnknownKey},
		{"empty", nil, nil, ErrMalformed},
		{"no version", sealed[3:], []byte("totp:1"), ErrMalformed},
		{"version 2", append([]byte("v2"), sealed[2:]...), []byte("totp:1"), ErrMalformed},
		{"bad base64", append(bytes.Clone(sealed[:header]), "!!!!"...), nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open err = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q on failure", got)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	k, path := MustLoad(t)
	oldID := k.Primary()
	old, _ := k.Seal([]byte("sealed before rotation"), []byte("row:1"))
	audit := k.DeriveKey("audit-chain")

	newID, err := Rotate(path)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if newID == oldID {
		t.Fatalf("Rotate returned the old id %q", newID)
	}
	fi, _ := os.Stat(path)
	if got, want := fi.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("mode after rotate = %#o, want %#o", got, want)
	}
	kf := mustRead(t, path)
	if got, want := kf.Primary, newID; got != want {
		t.Errorf("file primary = %q, want %q", got, want)
	}
	if got, want := len(kf.Keys), 2; got != want {
		t.Errorf("len(keys) = %d, want %d", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if got, want := len(entries), 1; got != want {
		t.Errorf("directory has %d entries after rotate, want %d (no temp or lock files)", got, want)
	}

	k2, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k2.Primary(), newID; got != want {
		t.Errorf("Primary() = %q, want %q", got, want)
	}
	got, err := k2.Open(old, []byte("row:1"))
	if err != nil || string(got) != "sealed before rotation" {
		t.Errorf("Open(old) after rotation = (%q, %v), want the plaintext", got, err)
	}
	if !k2.NeedsReseal(old) {
		t.Errorf("NeedsReseal(old) = false, want true")
	}
	fresh, _ := k2.Seal([]byte("new"), nil)
	if k2.NeedsReseal(fresh) {
		t.Errorf("NeedsReseal(fresh) = true, want false")
	}
	if !k2.NeedsReseal([]byte("garbage")) {
		t.Errorf("NeedsReseal(garbage) = false, want true")
	}
	if !bytes.Equal(k2.DeriveKey("audit-chain"), audit) {
		t.Errorf("DeriveKey(audit-chain) changed with rotation")
	}

	// The running keyring k picks up the new key when it meets a value
	// sealed under it.
	if _, err := k.Open(fresh, nil); err != nil {
		t.Errorf("old keyring Open(value under new key) = %v, want reload and success", err)
	}
	if got, want := k.Primary(), newID; got != want {
		t.Errorf("old keyring Primary() after reload = %q, want %q", got, want)
	}
}

func TestRotateErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Rotate(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rotate(missing) err = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rotate created the key file")
	}
	_, path := MustLoad(t)
	if err := os.WriteFile(path+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Rotate(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Rotate with lock present err = %v, want ErrLocked", err)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("Rotate removed a lock it did not take: %v", err)
	}
}

func TestPermissions(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o604, false},
		{0o644, false},
		{0o660, false},
		{0o620, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%#o", tt.mode), func(t *testing.T) {
			_, path := MustLoad(t)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreate(path)
			if got := err == nil; got != tt.ok {
				t.Fatalf("LoadOrCreate with mode %#o err = %v, want ok=%v", tt.mode, err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, ErrInsecureFile) {
					t.Errorf("err = %v, want ErrInsecureFile", err)
				}
				if !strings.Contains(err.Error(), "chmod 600") {
					t.Errorf("err = %q, want a hint to chmod 600", err)
				}
				if _, err := Rotate(path); !errors.Is(err, ErrInsecureFile) {
					t.Errorf("Rotate err = %v, want ErrInsecureFile", err)
				}
			}
		})
	}
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); !errors.Is(err, ErrInsecureFile) {
		t.Errorf("LoadOrCreate(directory) err = %v, want ErrInsecureFile", err)
	}
}

// keyMaterial returns every secret in the key file at path, in the forms it
// could leak: base64 as stored, raw bytes and hex.
func keyMaterial(t *testing.T, path string) []string {
	t.Helper()
	kf := mustRead(t, path)
	var out []string
	add := func(b64 string) {
		raw, _ := base64.StdEncoding.DecodeString(b64)
		out = append(out, b64, b64[:12], string(raw), fmt.Sprintf("%x", raw)[:16], fmt.Sprintf("%v", raw[:4]))
	}
	add(kf.DeriveRoot)
	for _, k := range kf.Keys {
		add(k.Key)
	}
	return out
}

func TestCorruptFile(t *testing.T) {
	_, path := MustLoad(t)
	good, _ := os.ReadFile(path)
	kf := mustRead(t, path)
	key := kf.Keys[0].Key
	edit := func(f func(kf *keyFile)) string {
		c := mustRead(t, path)
		f(&c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	tests := []struct {
		name, content string
	}{
		{"empty", ""},
		{"not json", "primary = " + key},
		{"truncated", string(good[:len(good)/2])},
		{"trailing data", string(good) + "{}"},
		{"unknown field", strings.Replace(string(good), `"primary"`, `"secret":"`+key+`","primary"`, 1)},
		{"array", "[" + string(good) + "]"},
		{"wrong type", strings.Replace(string(good), `"keys": [`, `"keys": "`+key+`", "x": [`, 1)},
		{"no keys", edit(func(kf *keyFile) { kf.Keys = nil })},
		{"short key", edit(func(kf *keyFile) { kf.Keys[0].Key = key[:20] })},
		{"bad base64 key", edit(func(kf *keyFile) { kf.Keys[0].Key = key[:40] + "!!!!" })},
		{"no derive root", edit(func(kf *keyFile) { kf.DeriveRoot = "" })},
		{"short derive root", edit(func(kf *keyFile) { kf.DeriveRoot = key[:20] })},
		{"unknown primary", edit(func(kf *keyFile) { kf.Primary = key })},
		{"empty id", edit(func(kf *keyFile) { kf.Keys[0].ID = ""; kf.Primary = "" })},
		{"key as id", edit(func(kf *keyFile) { kf.Keys[0].ID = key; kf.Primary = key })},
		{"duplicate id", edit(func(kf *keyFile) { kf.Keys = append(kf.Keys, kf.Keys[0]) })},
		{"bad time", strings.Replace(string(good), `"created_at": "`, `"created_at": "`+key, 1)},
	}
	secrets := keyMaterial(t, path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreate(p)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("LoadOrCreate err = %v, want ErrCorrupt", err)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains key material", err)
				}
			}
			after, _ := os.ReadFile(p)
			if string(after) != tt.content {
				t.Errorf("LoadOrCreate overwrote a corrupt file")
			}
		})
	}
}

func TestNoSecretsInErrors(t *testing.T) {
	k, path := MustLoad(t)
	plaintext := []byte("totp-seed-that-must-not-leak")
	aad := []byte("totp:factor-that-must-not-leak")
	sealed, _ := k.Seal(plaintext, aad)
	var errs []error
	_, err := k.Open(sealed, []byte("totp:other"))
	errs = append(errs, err)
	_, err = k.Open(append(bytes.Clone(sealed), 'x'), aad)
	errs = append(errs, err)
	_, err = k.Open([]byte("v1:zzzz:"+strings.Repeat("A", 40)), aad)
	errs = append(errs, err)
	bad := &Keyring{path: k.path, rand: iotest.ErrReader(errors.New("no entropy")), primary: k.primary, aeads: k.aeads, root: k.root}
	_, err = bad.Seal(plaintext, aad)
	errs = append(errs, err)
	os.Chmod(path, 0o644)
	_, err = LoadOrCreate(path)
	errs = append(errs, err)
	_, err = Rotate(path)
	errs = append(errs, err)

	secrets := append(keyMaterial(t, path), string(plaintext), string(aad), string(sealed))
	for _, err := range errs {
		if err == nil {
			t.Errorf("expected an error, got nil")
			continue
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains secret %q", err, s)
			}
		}
	}
	// Printing the keyring shows no keys either.
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), k.LogValue().String()} {
		for _, m := range keyMaterial(t, path) {
			if strings.Contains(s, m) {
				t.Errorf("formatted keyring %q contains key material", s)
			}
		}
	}
}

func TestDeriveKey(t *testing.T) {
	k, path := MustLoad(t)
	other, _ := MustLoad(t)
	a := k.DeriveKey("audit-chain")
	tests := []struct {
		name string
		got  []byte
		same bool
	}{
		{"same label", k.DeriveKey("audit-chain"), true},
		{"other label", k.DeriveKey("session-hash"), false},
		{"prefix label", k.DeriveKey("audit-chai"), false},
		{"other keyring", other.DeriveKey("audit-chain"), false},
	}
	for _, tt := range tests {
		if got := bytes.Equal(tt.got, a); got != tt.same {
			t.Errorf("%s: equal = %v, want %v", tt.name, got, tt.same)
		}
	}
	if got, want := len(a), KeySize; got != want {
		t.Errorf("len(DeriveKey) = %d, want %d", got, want)
	}
	// Changing the derive root under a running keyring is refused.
	kf := mustRead(t, path)
	kf.DeriveRoot = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, KeySize))
	b, _ := json.Marshal(kf)
	os.WriteFile(path, b, 0o600)
	if err := k.Reload(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Reload with a new derive root err = %v, want ErrCorrupt", err)
	}
	if !bytes.Equal(k.DeriveKey("audit-chain"), a) {
		t.Errorf("DeriveKey changed after a refused reload")
	}
}

func BenchmarkSeal(b *testing.B) {
	k, _ := MustLoad(b)
	pt := make([]byte, 20)
	for b.Loop() {
		k.Seal(pt, []byte("totp:1"))
	}
}

func BenchmarkOpen(b *testing.B) {
	k, _ := MustLoad(b)
	sealed, _ := k.Seal(make([]byte, 20), []byte("totp:1"))
	for b.Loop() {
		if _, err := k.Open(sealed, []byte("totp:1")); err != nil {
			b.Fatal(err)
		}
	}
}
