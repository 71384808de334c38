package webauthn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordergate/ordergate/internal/auth/webauthn"
)

// mdsCA makes a self-signed root and a BLOB-signing certificate under it.
func mdsCA(t *testing.T) (root *x509.Certificate, rootDER, leafDER []byte, leafKey *ecdsa.PrivateKey) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test MDS root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rt, rt, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rootDER)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test MDS signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err = x509.CreateCertificate(rand.Reader, lt, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return root, rootDER, leafDER, leafKey
}

// signBLOB writes payload as an ES256 JWT with the x5c chain.
func signBLOB(t *testing.T, key *ecdsa.PrivateKey, chain [][]byte, payload any) []byte {
	t.Helper()
	var x5c []string
	for _, c := range chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c))
	}
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": x5c})
	p, _ := json.Marshal(payload)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return []byte(input + "." + base64.RawURLEncoding.EncodeToString(sig))
}

// TestLoadMetadata reads a small self-signed MDS3 BLOB: accepted with its
// root, refused with another root, and its entry found by AAGUID.
func TestLoadMetadata(t *testing.T) {
	_, rootDER, leafDER, leafKey := mdsCA(t)
	_, otherRootDER, _, _ := mdsCA(t)
	dir := t.TempDir()
	payload := map[string]any{
		"legalHeader": "test", "no": 1, "nextUpdate": time.Now().AddDate(0, 1, 0).Format(time.DateOnly),
		"entries": []any{map[string]any{
			"aaguid":                 testAAGUIDString,
			"statusReports":          []any{map[string]any{"status": "FIDO_CERTIFIED", "effectiveDate": "2024-01-01"}},
			"timeOfLastStatusChange": "2024-01-01",
			"metadataStatement": map[string]any{
				"legalHeader": "test", "aaguid": testAAGUIDString, "description": "Test key",
				"authenticatorVersion": 1, "protocolFamily": "fido2", "schema": 3,
				"upv": []any{map[string]any{"major": 1, "minor": 0}}, "authenticationAlgorithms": []string{"secp256r1_ecdsa_sha256_raw"},
				"publicKeyAlgAndEncodings": []string{"cose"}, "attestationTypes": []string{"basic_full"},
				"userVerificationDetails": []any{[]any{map[string]any{"userVerificationMethod": "presence_internal"}}},
				"keyProtection":           []string{"hardware"}, "matcherProtection": []string{"on_chip"},
				"attachmentHint": []string{"external"}, "tcDisplay": []string{},
				"attestationRootCertificates": []string{base64.StdEncoding.EncodeToString(rootDER)},
			},
		}},
	}
	blob := filepath.Join(dir, "blob.jwt")
	os.WriteFile(blob, signBLOB(t, leafKey, [][]byte{leafDER, rootDER}, payload), 0o600)
	writePEM := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		return p
	}
	rootPEM, otherPEM := writePEM("root.pem", rootDER), writePEM("other.pem", otherRootDER)

	md, skipped, err := webauthn.LoadMetadata(blob, rootPEM)
	if err != nil {
		t.Fatalf("LoadMetadata(right root) = %v", err)
	}
	if skipped != 0 {
		t.Errorf("LoadMetadata skipped %d entries, want 0", skipped)
	}
	e, err := md.GetEntry(context.Background(), uuid.MustParse(testAAGUIDString))
	if err != nil || e == nil || e.MetadataStatement.Description != "Test key" {
		t.Errorf("GetEntry(%s) = %+v, %v; want the test key", testAAGUIDString, e, err)
	}
	if _, _, err := webauthn.LoadMetadata(blob, otherPEM); err == nil {
		t.Errorf("LoadMetadata with another root succeeded")
	}
	// The FIDO production root is the default: a self-signed BLOB fails.
	if _, _, err := webauthn.LoadMetadata(blob, ""); err == nil {
		t.Errorf("LoadMetadata with the default root accepted a self-signed BLOB")
	}
	tampered := append([]byte{}, signBLOB(t, leafKey, [][]byte{leafDER, rootDER}, payload)...)
	tampered[len(tampered)-5] ^= 1
	os.WriteFile(blob, tampered, 0o600)
	if _, _, err := webauthn.LoadMetadata(blob, rootPEM); err == nil {
		t.Errorf("LoadMetadata accepted a BLOB with a broken signature")
	}
}
