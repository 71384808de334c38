package webauthn

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
)

// LoadMetadata reads a FIDO Metadata Service (MDS3) BLOB file, a signed
// JWT, and returns a provider of its entries. The BLOB's signature chain
// is verified against the root certificate in the PEM file rootPath, or,
// when rootPath is "", against the FIDO Alliance's production MDS root
// (the one that signs the BLOB published at mds3.fidoalliance.org).
// Entries that do not parse are skipped; their number is returned.
func LoadMetadata(path, rootPath string) (metadata.Provider, int, error) {
	blob, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: %w", err)
	}
	opts := []metadata.DecoderOption{metadata.WithIgnoreEntryParsingErrors()}
	if rootPath != "" {
		pemBytes, err := os.ReadFile(rootPath)
		if err != nil {
			return nil, 0, fmt.Errorf("metadata root certificate: %w", err)
		}
		block, _ := pem.Decode(pemBytes)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, 0, fmt.Errorf("metadata root certificate %s: no PEM CERTIFICATE block", rootPath)
		}
		opts = append(opts, metadata.WithRootCertificate(base64.StdEncoding.EncodeToString(block.Bytes)))
	}
	dec, err := metadata.NewDecoder(opts...)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: %w", err)
	}
	payload, err := dec.DecodeBytes(blob)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata %s: signature or format: %w", path, err)
	}
	md, err := dec.Parse(payload)
	if err != nil {
		return nil, 0, fmt.Errorf("metadata %s: %w", path, err)
	}
	p, err := memory.New(memory.WithMetadata(md.ToMap()), memory.WithValidateEntry(true),
		memory.WithValidateTrustAnchor(true), memory.WithValidateStatus(true))
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: %w", err)
	}
	return p, len(md.Unparsed), nil
}
