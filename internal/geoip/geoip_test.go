package geoip_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/geoip"
	"github.com/ordergate/ordergate/internal/testenv"
)

var (
	buildOnce sync.Once
	builtPath string
	builtErr  error
	builtDir  string
)

// MustBuildTorDB builds, once per test binary, an .mmdb from Debian's
// tor-geoipdb and returns its path; it skips (fails under CI) when the
// package is not installed.
func MustBuildTorDB(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(geoip.TorGeoIPv4); err != nil {
		testenv.Missing(tb, "Debian package tor-geoipdb ("+geoip.TorGeoIPv4+")")
	}
	buildOnce.Do(func() {
		builtDir, builtErr = os.MkdirTemp("", "ordergate-geoip")
		if builtErr != nil {
			return
		}
		builtPath = filepath.Join(builtDir, "country.mmdb")
		v4, err := os.Open(geoip.TorGeoIPv4)
		if err != nil {
			builtErr = err
			return
		}
		defer v4.Close()
		v6, err := os.Open(geoip.TorGeoIPv6)
		if err != nil {
			builtErr = err
			return
		}
		defer v6.Close()
		var buf bytes.Buffer
		if _, builtErr = geoip.Build(&buf, v4, v6, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)); builtErr != nil {
			return
		}
		builtErr = os.WriteFile(builtPath, buf.Bytes(), 0o600)
	})
	if builtErr != nil {
		tb.Fatalf("build mmdb from tor-geoipdb: %v", builtErr)
	}
	return builtPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

func TestLocateRealData(t *testing.T) {
	r, err := geoip.Open(MustBuildTorDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.DatabaseType(); got != "GeoLite2-Country" {
		t.Errorf("DatabaseType() = %q, want GeoLite2-Country", got)
	}
	tests := []struct {
		ip      string
		country string // "" = not found
	}{
		{"81.2.69.142", "GB"}, // MaxMind's own test range
		{"8.8.8.8", "US"},
		{"1.1.1.1", "AU"},
		{"::ffff:81.2.69.142", "GB"},
		{"2001:4860:4860::8888", "US"},
		{"10.1.2.3", ""},
		{"127.0.0.1", ""},
		{"192.168.1.1", ""},
		{"::1", ""},
	}
	for _, tt := range tests {
		loc, ok := r.Locate(netip.MustParseAddr(tt.ip))
		if loc.Country != tt.country || ok != (tt.country != "") {
			t.Errorf("Locate(%s) = %q, %v; want %q", tt.ip, loc.Country, ok, tt.country)
		}
		if ok && !loc.HasCoords {
			t.Errorf("Locate(%s) has no centroid for %s", tt.ip, loc.Country)
		}
	}
}

func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	os.WriteFile(corrupt, []byte("this is not a maxmind database"), 0o600)
	tests := []struct{ name, path string }{
		{"missing", filepath.Join(dir, "nope.mmdb")},
		{"corrupt", corrupt},
	}
	for _, tt := range tests {
		if r, err := geoip.Open(tt.path); err == nil {
			r.Close()
			t.Errorf("Open(%s file) succeeded, want an error", tt.name)
		}
	}
}

func TestOpenTruncated(t *testing.T) {
	b, err := os.ReadFile(MustBuildTorDB(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "truncated.mmdb")
	os.WriteFile(p, b[:len(b)/2], 0o600)
	if r, err := geoip.Open(p); err == nil {
		r.Close()
		t.Errorf("Open(truncated database) succeeded, want an error")
	}
}

func TestBuildSmall(t *testing.T) {
	// Real rows from tor-geoipdb, plus the kinds of lines Build must skip.
	v4 := "# comment\n28466688,28466943,GB\n16777216,16777471,AU\n167772160,184549375,??\n"
	v6 := "2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,??\n2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,US\n"
	var buf bytes.Buffer
	st, err := geoip.Build(&buf, strings.NewReader(v4), strings.NewReader(v6), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if st.Ranges != 3 || st.Skipped != 2 || st.Countries != 3 {
		t.Errorf("Build stats = %+v, want 3 ranges, 2 skipped, 3 countries", st)
	}
	p := filepath.Join(t.TempDir(), "small.mmdb")
	os.WriteFile(p, buf.Bytes(), 0o600)
	r, err := geoip.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for ip, want := range map[string]string{"1.178.94.1": "GB", "1.0.0.1": "AU", "2001:4860::1": "US", "10.0.0.1": ""} {
		if loc, _ := r.Locate(netip.MustParseAddr(ip)); loc.Country != want {
			t.Errorf("Locate(%s) = %q, want %q", ip, loc.Country, want)
		}
	}
}

func TestBuildBadInput(t *testing.T) {
	tests := []struct{ name, v4 string }{
		{"two fields", "1,2\n"},
		{"not a number", "x,2,GB\n"},
		{"reversed", "20,10,GB\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if _, err := geoip.Build(&buf, strings.NewReader(tt.v4), nil, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: Build error = %v, want one naming line 1", tt.name, err)
		}
	}
}

func TestCentroid(t *testing.T) {
	c, ok := geoip.Centroid("gb")
	if !ok || c.Name != "United Kingdom" || c.Lat < 50 || c.Lat > 60 {
		t.Errorf("Centroid(gb) = %+v, %v", c, ok)
	}
	if _, ok := geoip.Centroid("ZZ"); ok {
		t.Errorf("Centroid(ZZ) found a country")
	}
}

func BenchmarkLocate(b *testing.B) {
	r, err := geoip.Open(MustBuildTorDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ips := []netip.Addr{netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:4860:4860::8888")}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Locate(ips[i%len(ips)])
	}
}
