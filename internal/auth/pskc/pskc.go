// Package pskc reads Portable Symmetric Key Container files (RFC 6030),
// the XML in which vendors ship the seeds of hardware OATH tokens: HOTP
// (RFC 4226) and TOTP (RFC 6238) keys with their device's serial number,
// as plain values or encrypted under a pre-shared key (AES-CBC with the IV
// prepended, and an HMAC over each encrypted value whose key is itself
// encrypted under the pre-shared key).
//
// Parse returns every key of a file or an error; never some of them. Its
// errors name the element at fault (KeyPackage[2]/Key/Data/Secret) and
// never hold a secret.
package pskc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// Kind is the OTP algorithm of a key.
type Kind string

// The kinds Parse accepts.
const (
	HOTP Kind = "hotp"
	TOTP Kind = "totp"
)

// ProblemMAC is the problem Parse reports, in the error's Fields, for an
// encrypted value whose MAC does not verify: a wrong pre-shared key or a
// changed file.
const ProblemMAC = "MAC check failed"

// MaxKeys is the most keys Parse reads from one file.
const MaxKeys = 100000

// Key is one key of a container.
type Key struct {
	// Path names the key's element, e.g. "KeyPackage[3]/Key".
	Path string
	// Manufacturer and SerialNo are the device's (DeviceInfo).
	Manufacturer string
	SerialNo     string
	// ID is the Key element's Id attribute; Issuer its Issuer.
	ID     string
	Issuer string
	Kind   Kind
	// Algorithm is the HMAC hash (AlgorithmParameters/Suite; SHA1 when
	// absent).
	Algorithm totp.Algorithm
	// Digits is ResponseFormat's Length (DECIMAL encoding only).
	Digits int
	// Secret is the decoded (and decrypted) seed. Never log it.
	Secret []byte
	// Counter is the next HOTP counter value (0 when absent).
	Counter uint64
	// TimeInterval is the TOTP time step (30 s when absent).
	TimeInterval time.Duration
	// Time is the Time element as written (0 when absent): the token's
	// time, or its count of intervals, when it was provisioned.
	Time int64
}

// Parse reads the keys of the PSKC document data. psk is the pre-shared
// key (16, 24 or 32 bytes) for a document whose values are encrypted; nil
// for a plain one. Errors are EINVALID with the element at fault in
// Fields; a wrong psk gives ProblemMAC.
func Parse(data []byte, psk []byte) ([]Key, error) {
	var doc container
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, invalid("KeyContainer", "not a PSKC document: "+xmlProblem(err))
	}
	if doc.XMLName.Local != "KeyContainer" {
		return nil, invalid("KeyContainer", "missing: the document's root is "+doc.XMLName.Local)
	}
	if doc.Version != "1.0" {
		return nil, invalid("KeyContainer/@Version", fmt.Sprintf("%q is not 1.0", clip(doc.Version)))
	}
	if len(doc.KeyPackages) == 0 {
		return nil, invalid("KeyContainer/KeyPackage", "missing: the document holds no keys")
	}
	if len(doc.KeyPackages) > MaxKeys {
		return nil, invalid("KeyContainer/KeyPackage", fmt.Sprintf("more than %d keys", MaxKeys))
	}
	p := &parser{psk: psk}
	if err := p.keys(&doc); err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(doc.KeyPackages))
	for i, kp := range doc.KeyPackages {
		k, err := p.key(fmt.Sprintf("KeyPackage[%d]", i+1), kp)
		if err != nil {
			for j := range out {
				clear(out[j].Secret)
			}
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// container and the types below mirror the RFC 6030 schema, matched by
// local name so that any namespace prefix works.
type container struct {
	XMLName       xml.Name
	Version       string         `xml:"Version,attr"`
	EncryptionKey *encryptionKey `xml:"EncryptionKey"`
	MACMethod     *macMethod     `xml:"MACMethod"`
	KeyPackages   []keyPackage   `xml:"KeyPackage"`
}

type encryptionKey struct {
	KeyName    string    `xml:"KeyName"`
	DerivedKey *struct{} `xml:"DerivedKey"`
	X509Data   *struct{} `xml:"X509Data"`
}

type macMethod struct {
	Algorithm string          `xml:"Algorithm,attr"`
	MACKey    *encryptedValue `xml:"MACKey"`
}

type encryptedValue struct {
	Method *struct {
		Algorithm string `xml:"Algorithm,attr"`
	} `xml:"EncryptionMethod"`
	CipherValue *string `xml:"CipherData>CipherValue"`
}

type keyPackage struct {
	DeviceInfo struct {
		Manufacturer string `xml:"Manufacturer"`
		SerialNo     string `xml:"SerialNo"`
	} `xml:"DeviceInfo"`
	Keys []keyElement `xml:"Key"`
}

type keyElement struct {
	ID         string `xml:"Id,attr"`
	Algorithm  string `xml:"Algorithm,attr"`
	Issuer     string `xml:"Issuer"`
	Parameters struct {
		Suite          string `xml:"Suite"`
		ResponseFormat *struct {
			Length   string `xml:"Length,attr"`
			Encoding string `xml:"Encoding,attr"`
		} `xml:"ResponseFormat"`
	} `xml:"AlgorithmParameters"`
	Data *struct {
		Secret       *value `xml:"Secret"`
		Counter      *value `xml:"Counter"`
		Time         *value `xml:"Time"`
		TimeInterval *value `xml:"TimeInterval"`
	} `xml:"Data"`
}

type value struct {
	PlainValue     *string         `xml:"PlainValue"`
	EncryptedValue *encryptedValue `xml:"EncryptedValue"`
	ValueMAC       *string         `xml:"ValueMAC"`
}

// parser holds the keys a document's values are protected with.
type parser struct {
	psk []byte
	// encrypted is set when the document names a pre-shared key.
	encrypted bool
	// macKey is nil when it could not be decrypted (a wrong psk): every
	// MAC check then fails.
	macKey []byte
	macNew func() hash.Hash
}

// macAlgorithms are the MACMethod algorithms Parse verifies.
var macAlgorithms = map[string]func() hash.Hash{
	"http://www.w3.org/2000/09/xmldsig#hmac-sha1":        sha1.New,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha224": sha256.New224,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256": sha256.New,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha384": sha512.New384,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha512": sha512.New,
}

// cipherKeySizes are the EncryptionMethod algorithms Parse decrypts, with
// their key sizes: AES in CBC mode, the IV first in CipherValue.
var cipherKeySizes = map[string]int{
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc": 16,
	"http://www.w3.org/2001/04/xmlenc#aes192-cbc": 24,
	"http://www.w3.org/2001/04/xmlenc#aes256-cbc": 32,
}

// keys reads EncryptionKey and MACMethod.
func (p *parser) keys(doc *container) error {
	if ek := doc.EncryptionKey; ek != nil {
		if ek.DerivedKey != nil || ek.X509Data != nil {
			return invalid("KeyContainer/EncryptionKey", "only a pre-shared key (ds:KeyName) is supported, not a passphrase-derived or certificate key")
		}
		if strings.TrimSpace(ek.KeyName) == "" {
			return invalid("KeyContainer/EncryptionKey/KeyName", "missing")
		}
		if p.psk == nil {
			return invalid("KeyContainer/EncryptionKey", "the values are encrypted: give the pre-shared key")
		}
		p.encrypted = true
	}
	if mm := doc.MACMethod; mm != nil {
		newHash := macAlgorithms[strings.TrimSpace(mm.Algorithm)]
		if newHash == nil {
			return invalid("KeyContainer/MACMethod/@Algorithm", fmt.Sprintf("%q is not a supported HMAC", clip(mm.Algorithm)))
		}
		p.macNew = newHash
		if mm.MACKey == nil {
			return invalid("KeyContainer/MACMethod/MACKey", "missing")
		}
		if !p.encrypted {
			return invalid("KeyContainer/MACMethod/MACKey", "encrypted, but the document names no EncryptionKey")
		}
		key, err := p.decrypt("KeyContainer/MACMethod/MACKey", mm.MACKey)
		if err != nil {
			if e, ok := err.(*ordergate.Error); ok && e.Fields["KeyContainer/MACMethod/MACKey"] == problemPadding {
				// A wrong pre-shared key: report it where it is noticed for
				// sure, at the first value's MAC.
				return nil
			}
			return err
		}
		p.macKey = key
	}
	return nil
}

// key reads one KeyPackage.
func (p *parser) key(path string, kp keyPackage) (Key, error) {
	k := Key{Manufacturer: strings.TrimSpace(kp.DeviceInfo.Manufacturer), SerialNo: strings.TrimSpace(kp.DeviceInfo.SerialNo)}
	switch len(kp.Keys) {
	case 0:
		return k, invalid(path+"/Key", "missing")
	case 1:
	default:
		return k, invalid(path+"/Key", "more than one Key in a KeyPackage")
	}
	ke := kp.Keys[0]
	path += "/Key"
	k.Path, k.ID, k.Issuer = path, strings.TrimSpace(ke.ID), strings.TrimSpace(ke.Issuer)
	switch strings.TrimSpace(ke.Algorithm) {
	case "urn:ietf:params:xml:ns:keyprov:pskc:hotp", "urn:ietf:params:xml:ns:keyprov:pskc#hotp":
		k.Kind = HOTP
	case "urn:ietf:params:xml:ns:keyprov:pskc:totp", "urn:ietf:params:xml:ns:keyprov:pskc#totp":
		k.Kind = TOTP
	default:
		return k, invalid(path+"/@Algorithm", fmt.Sprintf("%q is neither HOTP nor TOTP", clip(ke.Algorithm)))
	}
	if k.SerialNo == "" && k.ID == "" {
		return k, invalid(strings.TrimSuffix(path, "/Key")+"/DeviceInfo/SerialNo", "missing, and the Key has no Id either")
	}
	switch suite := strings.ToUpper(strings.TrimSpace(ke.Parameters.Suite)); suite {
	case "", "HMAC-SHA1", "SHA1":
		k.Algorithm = totp.SHA1
	case "HMAC-SHA256", "SHA256":
		k.Algorithm = totp.SHA256
	case "HMAC-SHA512", "SHA512":
		k.Algorithm = totp.SHA512
	default:
		return k, invalid(path+"/AlgorithmParameters/Suite", fmt.Sprintf("%q is not HMAC-SHA1, -SHA256 or -SHA512", clip(suite)))
	}
	if k.Kind == HOTP && k.Algorithm != totp.SHA1 {
		return k, invalid(path+"/AlgorithmParameters/Suite", "HOTP is HMAC-SHA1 (RFC 4226)")
	}
	k.Digits = 6
	if rf := ke.Parameters.ResponseFormat; rf != nil {
		fp := path + "/AlgorithmParameters/ResponseFormat"
		if enc := strings.TrimSpace(rf.Encoding); enc != "DECIMAL" {
			return k, invalid(fp+"/@Encoding", fmt.Sprintf("%q is not DECIMAL", clip(enc)))
		}
		n, err := strconv.Atoi(strings.TrimSpace(rf.Length))
		if err != nil || (n != 6 && n != 8) {
			return k, invalid(fp+"/@Length", fmt.Sprintf("%q is not 6 or 8", clip(rf.Length)))
		}
		k.Digits = n
	}
	if ke.Data == nil || ke.Data.Secret == nil {
		return k, invalid(path+"/Data/Secret", "missing")
	}
	secret, err := p.value(path+"/Data/Secret", ke.Data.Secret, true)
	if err != nil {
		return k, err
	}
	if len(secret) == 0 {
		return k, invalid(path+"/Data/Secret", "empty")
	}
	k.Secret = secret
	fail := func(err error) (Key, error) {
		clear(k.Secret)
		return Key{}, err
	}
	if ke.Data.Counter != nil {
		n, err := p.integer(path+"/Data/Counter", ke.Data.Counter, 64)
		if err != nil {
			return fail(err)
		}
		k.Counter = n
	}
	k.TimeInterval = 30 * time.Second
	if ke.Data.TimeInterval != nil {
		n, err := p.integer(path+"/Data/TimeInterval", ke.Data.TimeInterval, 32)
		if err != nil {
			return fail(err)
		}
		if n < 1 || n > 120 {
			return fail(invalid(path+"/Data/TimeInterval", fmt.Sprintf("%d s is not between 1 and 120 s", n)))
		}
		k.TimeInterval = time.Duration(n) * time.Second
	}
	if ke.Data.Time != nil {
		n, err := p.integer(path+"/Data/Time", ke.Data.Time, 63)
		if err != nil {
			return fail(err)
		}
		k.Time = int64(n)
	}
	return k, nil
}

// value returns the plain or decrypted bytes of v. base64 says how a
// plain value is written: base64 for a secret, decimal for a number.
func (p *parser) value(path string, v *value, base64Plain bool) ([]byte, error) {
	switch {
	case v.PlainValue != nil && v.EncryptedValue != nil:
		return nil, invalid(path, "both PlainValue and EncryptedValue")
	case v.PlainValue != nil:
		if !base64Plain {
			return []byte(strings.TrimSpace(*v.PlainValue)), nil
		}
		b, err := decodeBase64(*v.PlainValue)
		if err != nil {
			return nil, invalid(path+"/PlainValue", "not base64")
		}
		return b, nil
	case v.EncryptedValue != nil:
		if !p.encrypted {
			return nil, invalid(path+"/EncryptedValue", "encrypted, but the document names no EncryptionKey")
		}
		if p.macNew == nil {
			return nil, invalid("KeyContainer/MACMethod", "missing: encrypted values must carry a MAC")
		}
		if v.ValueMAC == nil {
			return nil, invalid(path+"/ValueMAC", "missing: encrypted values must carry a MAC")
		}
		want, err := decodeBase64(*v.ValueMAC)
		if err != nil {
			return nil, invalid(path+"/ValueMAC", "not base64")
		}
		ct, err := p.cipherValue(path+"/EncryptedValue", v.EncryptedValue)
		if err != nil {
			return nil, err
		}
		// Encrypt-then-MAC: the MAC covers the IV and the ciphertext, and
		// is checked before anything is decrypted.
		m := hmac.New(p.macNew, p.macKey)
		m.Write(ct)
		if p.macKey == nil || !hmac.Equal(m.Sum(nil), want) {
			return nil, invalid(path, ProblemMAC)
		}
		return p.decrypt(path+"/EncryptedValue", v.EncryptedValue)
	default:
		return nil, invalid(path, "neither PlainValue nor EncryptedValue")
	}
}

// integer reads a number value of at most bits bits: decimal when plain,
// big-endian bytes when encrypted.
func (p *parser) integer(path string, v *value, bits int) (uint64, error) {
	b, err := p.value(path, v, false)
	if err != nil {
		return 0, err
	}
	var n uint64
	if v.PlainValue != nil {
		n, err = strconv.ParseUint(string(b), 10, bits)
		if err != nil {
			return 0, invalid(path+"/PlainValue", "not a whole number of "+strconv.Itoa(bits)+" bits")
		}
		return n, nil
	}
	if len(b) == 0 || len(b) > 8 {
		return 0, invalid(path+"/EncryptedValue", "not a number of at most 8 bytes")
	}
	var buf [8]byte
	copy(buf[8-len(b):], b)
	n = binary.BigEndian.Uint64(buf[:])
	if bits < 64 && n >= 1<<bits {
		return 0, invalid(path+"/EncryptedValue", "number too large")
	}
	return n, nil
}

// cipherValue returns an encrypted value's bytes (IV and ciphertext) after
// checking its algorithm.
func (p *parser) cipherValue(path string, ev *encryptedValue) ([]byte, error) {
	if ev.Method == nil {
		return nil, invalid(path+"/EncryptionMethod", "missing")
	}
	size, ok := cipherKeySizes[strings.TrimSpace(ev.Method.Algorithm)]
	if !ok {
		return nil, invalid(path+"/EncryptionMethod/@Algorithm", fmt.Sprintf("%q is not AES-CBC", clip(ev.Method.Algorithm)))
	}
	if len(p.psk) != size {
		return nil, invalid(path+"/EncryptionMethod/@Algorithm", fmt.Sprintf("needs a %d-byte key; the pre-shared key has %d bytes", size, len(p.psk)))
	}
	if ev.CipherValue == nil {
		return nil, invalid(path+"/CipherData/CipherValue", "missing")
	}
	ct, err := decodeBase64(*ev.CipherValue)
	if err != nil {
		return nil, invalid(path+"/CipherData/CipherValue", "not base64")
	}
	if len(ct) < 2*aes.BlockSize || len(ct)%aes.BlockSize != 0 {
		return nil, invalid(path+"/CipherData/CipherValue", "not an IV followed by whole AES blocks")
	}
	return ct, nil
}

// problemPadding is what decrypt reports when the plaintext's padding is
// wrong, which a wrong key causes.
const problemPadding = "cannot be decrypted (wrong key or damaged value)"

// decrypt returns the plaintext of an AES-CBC encrypted value: the IV is
// the first block; the padding is XML Encryption's (the last byte counts
// the padding bytes, whose other values are arbitrary).
func (p *parser) decrypt(path string, ev *encryptedValue) ([]byte, error) {
	ct, err := p.cipherValue(path, ev)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(p.psk)
	if err != nil {
		return nil, invalid(path, "bad pre-shared key")
	}
	out := make([]byte, len(ct)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, ct[:aes.BlockSize]).CryptBlocks(out, ct[aes.BlockSize:])
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize {
		clear(out)
		return nil, invalid(path, problemPadding)
	}
	return out[:len(out)-pad], nil
}

// decodeBase64 decodes standard base64 with any white space in it.
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

// invalid is the EINVALID error naming the element at path.
func invalid(path, problem string) error {
	return ordergate.FieldError(ordergate.EINVALID, path, problem)
}

// xmlProblem describes an XML syntax error by its line only: the message
// of encoding/xml can quote the document.
func xmlProblem(err error) string {
	if se, ok := err.(*xml.SyntaxError); ok {
		return fmt.Sprintf("XML syntax error on line %d", se.Line)
	}
	return "not well-formed XML"
}

// clip shortens an attribute value quoted in an error.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
