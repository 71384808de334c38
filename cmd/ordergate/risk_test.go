package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordergate/ordergate/internal/geoip"
	"github.com/ordergate/ordergate/internal/testenv"
)

func TestGeoIPBuildCommand(t *testing.T) {
	if _, err := os.Stat(geoip.TorGeoIPv4); err != nil {
		testenv.Missing(t, "Debian package tor-geoipdb")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "country.mmdb")
	got, err := runCmd(t, dir, "", "geoip", "build", "--out", out)
	if err != nil {
		t.Fatalf("geoip build: %v\n%s", err, got)
	}
	if !strings.Contains(got, "CC BY-SA 4.0") || !strings.Contains(got, "countries") {
		t.Errorf("geoip build said %q, want counts and the data licence", got)
	}
	r, err := geoip.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if loc, _ := r.Locate(netip.MustParseAddr("81.2.69.142")); loc.Country != "GB" {
		t.Errorf("built database locates 81.2.69.142 in %q, want GB", loc.Country)
	}
	if _, err := runCmd(t, dir, "", "geoip", "build", "--ipv4", filepath.Join(dir, "missing"), "--out", out); err == nil {
		t.Errorf("geoip build with a missing input succeeded")
	}
}

// TestServeWithCorruptGeoIP: a corrupt GeoIP file does not stop the start.
func TestServeWithCorruptGeoIP(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mmdb")
	os.WriteFile(bad, []byte("not an mmdb"), 0o600)
	cfg := filepath.Join(dir, "ordergate.yaml")
	os.WriteFile(cfg, []byte("risk: {geoip_path: "+bad+"}\n"), 0o600)
	base := startServer(t, dir, "--config", cfg)
	if base == "" {
		t.Fatal("server did not start")
	}
}
