// Package secret is the at-rest encryption keyring: it seals small values
// (TOTP seeds, provider tokens) with AES-256-GCM before they reach the
// database, and derives stable sub-keys (audit chain, session hashing,
// peppers) from a root secret.
//
// # Key file
//
// The keyring lives in one JSON file, mode 0600, owned by the server:
//
//	{
//	  "primary": "3f9c2a1b",
//	  "derive_root": "<base64, 32 bytes>",
//	  "keys": [{"id": "3f9c2a1b", "key": "<base64, 32 bytes>", "created_at": "2026-01-02T03:04:05Z"}]
//	}
//
// New values are sealed under the primary key; older keys stay in the file
// so that values sealed under them still open. derive_root never changes
// with rotation, so keys from DeriveKey stay stable.
//
// # Sealed format
//
// Seal returns ASCII text, safe for a TEXT column:
//
//	v1:<key id>:<base64url, no padding, of nonce(12) || ciphertext || tag(16)>
//
// The GCM additional data is the header "v1:<key id>:" followed by the
// caller's aad, which binds a value to its row (for example
// "totp:<factor id>"): a value copied to another row does not open.
//
// A random 96-bit nonce per Seal is safe for about 2^32 values per key;
// rotate long before that.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// KeySize is the size in bytes of data keys and of the derive root.
const KeySize = 32

const (
	version   = "v1"
	nonceSize = 12
	tagSize   = 16
	maxFile   = 1 << 20 // a keyring file larger than this is corrupt
)

// Sentinel errors. None of them, nor any error this package returns,
// contains key material, plaintext or aad.
var (
	// ErrInsecureFile means the key file is readable or writable by group or
	// others, or is not a regular file.
	ErrInsecureFile = errors.New("secret: key file has insecure permissions")
	// ErrCorrupt means the key file cannot be parsed or fails validation.
	ErrCorrupt = errors.New("secret: corrupt key file")
	// ErrMalformed means a sealed value is not in the v1 format.
	ErrMalformed = errors.New("secret: malformed sealed value")
	// ErrUnknownKey means a sealed value names a key the keyring lacks.
	ErrUnknownKey = errors.New("secret: unknown key id")
	// ErrOpen means authentication failed: wrong aad, tampering or wrong key.
	ErrOpen = errors.New("secret: cannot open sealed value")
	// ErrLocked means another rotation holds the lock file.
	ErrLocked = errors.New("secret: key file is locked by another rotation")
)

// Keyring holds the data keys and the derive root. It is safe for
// concurrent use. Its String, GoString and LogValue methods never show keys.
type Keyring struct {
	path string
	rand io.Reader

	mu      sync.RWMutex
	primary string
	aeads   map[string]cipher.AEAD
	root    []byte
}

// keyFile is the JSON layout of the key file.
type keyFile struct {
	Primary    string    `json:"primary"`
	DeriveRoot string    `json:"derive_root"`
	Keys       []fileKey `json:"keys"`
}

type fileKey struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"created_at"`
}

// LoadOrCreate loads the keyring at path, or creates it with one fresh key
// and a fresh derive root when no file exists. Creation never overwrites:
// the file is written to a temporary file and hard-linked into place, which
// fails if path appeared meanwhile (then that file is loaded). It refuses a
// file with any group or other permission bits (ErrInsecureFile) and a file
// that does not parse or validate (ErrCorrupt).
func LoadOrCreate(path string) (*Keyring, error) {
	k, err := load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	kf, err := newKeyFile(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := createExclusive(path, kf); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return load(path)
		}
		return nil, err
	}
	return load(path)
}

// load reads and validates the key file at path.
func load(path string) (*Keyring, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k := &Keyring{path: path, rand: rand.Reader}
	if err := k.adopt(kf); err != nil {
		return nil, err
	}
	return k, nil
}

// readKeyFile opens path, checks its mode on the open descriptor and
// parses it. Errors name the path and the problem, never the content.
func readKeyFile(path string) (*keyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret: open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret: stat key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file: %w", path, ErrInsecureFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o, want 0600 (run chmod 600 %s): %w", path, perm, path, ErrInsecureFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, maxFile, ErrCorrupt)
	}
	var kf keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// The decoder's own errors may quote input, so they are not wrapped.
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%s is not a valid keyring JSON object: %w", path, ErrCorrupt)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s has data after the JSON object: %w", path, ErrCorrupt)
	}
	if err := kf.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &kf, nil
}

// validate checks the parsed file. Errors name key ids, never keys.
func (kf *keyFile) validate() error {
	if root, err := base64.StdEncoding.DecodeString(kf.DeriveRoot); err != nil || len(root) != KeySize {
		return fmt.Errorf("derive_root is not %d base64 bytes: %w", KeySize, ErrCorrupt)
	}
	if len(kf.Keys) == 0 {
		return fmt.Errorf("no keys: %w", ErrCorrupt)
	}
	seen := make(map[string]bool, len(kf.Keys))
	for i, fk := range kf.Keys {
		if !validID(fk.ID) {
			return fmt.Errorf("key %d has an invalid id (want 1-64 of [A-Za-z0-9_-]): %w", i, ErrCorrupt)
		}
		if seen[fk.ID] {
			return fmt.Errorf("key id %q appears twice: %w", fk.ID, ErrCorrupt)
		}
		seen[fk.ID] = true
		if key, err := base64.StdEncoding.DecodeString(fk.Key); err != nil || len(key) != KeySize {
			return fmt.Errorf("key %q is not %d base64 bytes: %w", fk.ID, KeySize, ErrCorrupt)
		}
	}
	if !seen[kf.Primary] {
		// The primary is not quoted: it was not validated and could hold anything.
		return fmt.Errorf("primary key id is not in keys: %w", ErrCorrupt)
	}
	return nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// adopt replaces k's keys with those of a validated file.
func (k *Keyring) adopt(kf *keyFile) error {
	root, _ := base64.StdEncoding.DecodeString(kf.DeriveRoot)
	aeads := make(map[string]cipher.AEAD, len(kf.Keys))
	for _, fk := range kf.Keys {
		key, _ := base64.StdEncoding.DecodeString(fk.Key)
		block, err := aes.NewCipher(key)
		if err != nil {
			return fmt.Errorf("secret: key %q: %w", fk.ID, ErrCorrupt)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fmt.Errorf("secret: key %q: new gcm: %w", fk.ID, err)
		}
		aeads[fk.ID] = aead
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.root != nil && string(k.root) != string(root) {
		return fmt.Errorf("secret: derive_root changed in %s; refusing to reload: %w", k.path, ErrCorrupt)
	}
	k.primary, k.aeads, k.root = kf.Primary, aeads, root
	return nil
}

// newKeyFile makes a key file with one fresh key and a fresh derive root.
func newKeyFile(r io.Reader) (*keyFile, error) {
	root := make([]byte, KeySize)
	if _, err := io.ReadFull(r, root); err != nil {
		return nil, fmt.Errorf("secret: read random derive root: %w", err)
	}
	kf := &keyFile{DeriveRoot: base64.StdEncoding.EncodeToString(root)}
	id, err := kf.addKey(r)
	if err != nil {
		return nil, err
	}
	kf.Primary = id
	return kf, nil
}

// addKey appends a fresh key with a new random id and returns the id.
func (kf *keyFile) addKey(r io.Reader) (string, error) {
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(r, key); err != nil {
		return "", fmt.Errorf("secret: read random key: %w", err)
	}
	var id string
	for {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("secret: read random key id: %w", err)
		}
		id = hex.EncodeToString(b[:])
		if !kf.has(id) {
			break
		}
	}
	kf.Keys = append(kf.Keys, fileKey{ID: id, Key: base64.StdEncoding.EncodeToString(key), CreatedAt: time.Now().UTC().Truncate(time.Second)})
	return id, nil
}

func (kf *keyFile) has(id string) bool {
	for _, fk := range kf.Keys {
		if fk.ID == id {
			return true
		}
	}
	return false
}

// writeTemp writes kf to a new 0600 temporary file next to path, synced to
// disk, and returns its name.
func writeTemp(path string, kf *keyFile) (string, error) {
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return "", fmt.Errorf("secret: encode key file: %w", err)
	}
	data = append(data, '\n')
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("secret: create temporary key file: %w", err)
	}
	name := f.Name()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("secret: chmod temporary key file: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("secret: write temporary key file: %w", err)
	}
	return name, nil
}

// createExclusive puts kf at path unless path exists (fs.ErrExist).
func createExclusive(path string, kf *keyFile) error {
	tmp, err := writeTemp(path, kf)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("secret: create key file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("secret: open key directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("secret: sync key directory: %w", err)
	}
	return nil
}

// Rotate adds a fresh key to the key file at path, makes it the primary
// and writes the file atomically (temporary 0600 file, fsync, rename). Old
// keys stay, so existing values still open; re-seal them with NeedsReseal
// and Seal, then restart or Reload running servers. Concurrent rotations
// are serialized by a lock file path+".lock"; if a crash leaves it behind,
// Rotate returns ErrLocked until it is removed. Rotate never creates the
// key file.
func Rotate(path string) (newID string, err error) {
	lock := path + ".lock"
	lf, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s exists (remove it if no rotation is running): %w", lock, ErrLocked)
		}
		return "", fmt.Errorf("secret: create lock file: %w", err)
	}
	lf.Close()
	defer os.Remove(lock)

	kf, err := readKeyFile(path)
	if err != nil {
		return "", err
	}
	id, err := kf.addKey(rand.Reader)
	if err != nil {
		return "", err
	}
	kf.Primary = id
	tmp, err := writeTemp(path, kf)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("secret: replace key file: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", err
	}
	return id, nil
}

// Reload re-reads the key file, picking up keys added by Rotate in another
// process. It keeps the current keys when the file is unreadable, invalid
// or has a different derive root.
func (k *Keyring) Reload() error {
	kf, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	return k.adopt(kf)
}

// Primary returns the id of the key new values are sealed under.
func (k *Keyring) Primary() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.primary
}

// Seal encrypts plaintext under the primary key, bound to aad, and returns
// the v1 text format described in the package comment.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	k.mu.RLock()
	id, aead := k.primary, k.aeads[k.primary]
	k.mu.RUnlock()
	header := version + ":" + id + ":"
	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, fmt.Errorf("secret: read random nonce: %w", err)
	}
	raw := aead.Seal(nonce, nonce, plaintext, additional(header, aad))
	out := make([]byte, len(header)+base64.RawURLEncoding.EncodedLen(len(raw)))
	copy(out, header)
	base64.RawURLEncoding.Encode(out[len(header):], raw)
	return out, nil
}

// Open decrypts a value from Seal with the key it names, checking aad. It
// returns ErrMalformed, ErrUnknownKey or ErrOpen (wrong aad or tampered).
// On an unknown key id it reloads the key file once, in case another
// process rotated.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	id, raw, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	k.mu.RLock()
	aead, ok := k.aeads[id]
	k.mu.RUnlock()
	if !ok && k.path != "" && k.Reload() == nil {
		k.mu.RLock()
		aead, ok = k.aeads[id]
		k.mu.RUnlock()
	}
	if !ok {
		return nil, fmt.Errorf("key %q: %w", id, ErrUnknownKey)
	}
	pt, err := aead.Open(nil, raw[:nonceSize], raw[nonceSize:], additional(version+":"+id+":", aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// NeedsReseal reports whether sealed should be re-sealed: true unless it is
// a well-formed v1 value under the current primary key. A malformed value
// reports true so that a re-seal pass surfaces it through Open's error.
func (k *Keyring) NeedsReseal(sealed []byte) bool {
	id, _, err := parse(sealed)
	return err != nil || id != k.Primary()
}

// DeriveKey returns a 32-byte sub-key for label (for example "audit-chain",
// "session-hash", "backup-code-pepper") by HKDF-SHA256 from the derive
// root, with info "ordergate/v1/"+label. The same label always gives the
// same key for a given key file, across rotations.
func (k *Keyring) DeriveKey(label string) []byte {
	k.mu.RLock()
	root := k.root
	k.mu.RUnlock()
	key, err := hkdf.Key(sha256.New, root, nil, "ordergate/v1/"+label, KeySize)
	if err != nil {
		// Only possible for lengths above 255*32 bytes; never for KeySize.
		panic("secret: hkdf: " + err.Error())
	}
	return key
}

// String describes k without key material.
func (k *Keyring) String() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return fmt.Sprintf("secret.Keyring{path: %q, primary: %q, keys: %d}", k.path, k.primary, len(k.aeads))
}

// GoString describes k without key material, for %#v.
func (k *Keyring) GoString() string { return k.String() }

// LogValue describes k for slog without key material.
func (k *Keyring) LogValue() slog.Value {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slog.GroupValue(slog.String("path", k.path), slog.String("primary", k.primary), slog.Int("keys", len(k.aeads)))
}

// additional returns header || aad, the GCM additional data.
func additional(header string, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	return append(append(b, header...), aad...)
}

// parse splits a v1 sealed value into key id and nonce||ciphertext||tag.
func parse(sealed []byte) (id string, raw []byte, err error) {
	rest, ok := strings.CutPrefix(string(sealed), version+":")
	if !ok {
		return "", nil, ErrMalformed
	}
	id, body, ok := strings.Cut(rest, ":")
	if !ok || !validID(id) {
		return "", nil, ErrMalformed
	}
	raw, err = base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < nonceSize+tagSize {
		return "", nil, ErrMalformed
	}
	return id, raw, nil
}
