package geoip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Debian's tor-geoipdb files: IPFire Location data under CC BY-SA 4.0.
const (
	TorGeoIPv4 = "/usr/share/tor/geoip"
	TorGeoIPv6 = "/usr/share/tor/geoip6"
)

// BuildStats counts what Build did.
type BuildStats struct {
	// Ranges is the number of ranges inserted, Skipped those left out:
	// unknown country ("??"), or a reserved or IPv4-aliased network that
	// an .mmdb cannot hold.
	Ranges, Skipped int
	// Countries is how many distinct countries the database holds.
	Countries int
}

// Build reads tor-geoipdb's IPv4 file (lines "first,last,CC" with the
// addresses as integers) and IPv6 file (lines "first,last,CC"), either of
// which may be nil, and writes a GeoLite2-Country-shaped database to w.
// buildTime is recorded as the database's build epoch.
func Build(w io.Writer, v4, v6 io.Reader, buildTime time.Time) (BuildStats, error) {
	var st BuildStats
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-Country",
		Description: map[string]string{"en": "ordergate country database built from Debian tor-geoipdb " +
			"(IPFire Location database, CC BY-SA 4.0, https://location.ipfire.org/)"},
		Languages:  []string{"en"},
		IPVersion:  6,
		RecordSize: 24,
		BuildEpoch: buildTime.Unix(),
	})
	if err != nil {
		return st, err
	}
	values := map[string]mmdbtype.Map{}
	insert := func(first, last netip.Addr, cc string) error {
		cc = strings.ToUpper(cc)
		if cc == "UK" {
			cc = "GB"
		}
		if cc == "??" || cc == "" || cc == "AP" || cc == "EU" {
			st.Skipped++
			return nil
		}
		v, ok := values[cc]
		if !ok {
			country := mmdbtype.Map{"iso_code": mmdbtype.String(cc)}
			if c, ok := Centroid(cc); ok {
				country["names"] = mmdbtype.Map{"en": mmdbtype.String(c.Name)}
			}
			v = mmdbtype.Map{"country": country, "registered_country": country}
			values[cc] = v
		}
		err := tree.InsertRange(net.IP(first.AsSlice()), net.IP(last.AsSlice()), v)
		var reserved *mmdbwriter.ReservedNetworkError
		var aliased *mmdbwriter.AliasedNetworkError
		if errors.As(err, &reserved) || errors.As(err, &aliased) {
			st.Skipped++
			return nil
		}
		if err != nil {
			return err
		}
		st.Ranges++
		return nil
	}
	if v4 != nil {
		if err := readRanges(v4, "geoip", parseIPv4Int, insert); err != nil {
			return st, err
		}
	}
	if v6 != nil {
		if err := readRanges(v6, "geoip6", netip.ParseAddr, insert); err != nil {
			return st, err
		}
	}
	st.Countries = len(values)
	if _, err := tree.WriteTo(w); err != nil {
		return st, fmt.Errorf("write mmdb: %w", err)
	}
	return st, nil
}

// readRanges calls insert for every "first,last,CC" line of r.
func readRanges(r io.Reader, name string, parse func(string) (netip.Addr, error), insert func(first, last netip.Addr, cc string) error) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 3 {
			return fmt.Errorf("%s line %d: want first,last,country", name, n)
		}
		first, err1 := parse(f[0])
		last, err2 := parse(f[1])
		if err1 != nil || err2 != nil || first.BitLen() != last.BitLen() || last.Less(first) {
			return fmt.Errorf("%s line %d: bad address range %q", name, n, f[0]+","+f[1])
		}
		if err := insert(first, last, f[2]); err != nil {
			return fmt.Errorf("%s line %d: %w", name, n, err)
		}
	}
	return sc.Err()
}

// parseIPv4Int parses an IPv4 address written as a decimal integer.
func parseIPv4Int(s string) (netip.Addr, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}
