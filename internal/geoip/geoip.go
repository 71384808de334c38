// Package geoip finds the country, and an approximate location, of a
// client address in a MaxMind-format (.mmdb) database, and builds such a
// database from the IP-to-country ranges Debian ships in tor-geoipdb.
//
// GeoLite2-Country records hold no coordinates, so the location of a
// country is its centroid from an embedded table (centroids.csv, from
// Google's DSPL canonical countries dataset); a City database's own
// location is used when a record has one.
package geoip

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ordergate/ordergate/internal/risk"
)

//go:embed centroids.csv
var centroidsCSV []byte

// Country is one row of the embedded centroid table.
type Country struct {
	Code     string
	Name     string
	Lat, Lon float64
}

var centroids = parseCentroids(centroidsCSV)

func parseCentroids(b []byte) map[string]Country {
	out := map[string]Country{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, ",", 4)
		if len(f) != 4 {
			panic("geoip: bad centroid row " + line)
		}
		lat, err1 := strconv.ParseFloat(f[1], 64)
		lon, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			panic("geoip: bad centroid row " + line)
		}
		out[f[0]] = Country{Code: f[0], Name: f[3], Lat: lat, Lon: lon}
	}
	return out
}

// Centroid returns the embedded centroid of the country with ISO 3166-1
// alpha-2 code cc.
func Centroid(cc string) (Country, bool) {
	c, ok := centroids[strings.ToUpper(cc)]
	return c, ok
}

// Reader looks addresses up in an open database. It is safe for
// concurrent use.
type Reader struct {
	db *maxminddb.Reader
}

// Open opens and verifies the database at path, so a corrupt file is
// refused here rather than misread later.
func Open(path string) (*Reader, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open geoip %s: %w", path, err)
	}
	if err := db.Verify(); err != nil {
		db.Close()
		return nil, fmt.Errorf("verify geoip %s: %w", path, err)
	}
	return &Reader{db: db}, nil
}

// Close releases the database.
func (r *Reader) Close() error { return r.db.Close() }

// DatabaseType is the metadata's database type, e.g. "GeoLite2-Country".
func (r *Reader) DatabaseType() string { return r.db.Metadata.DatabaseType }

// record is the part of a GeoLite2/GeoIP2 Country or City record we read.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Locate returns the country and location of a, and false when the
// database does not know it (private, reserved or unlisted addresses).
func (r *Reader) Locate(a netip.Addr) (risk.Location, bool) {
	if !a.IsValid() {
		return risk.Location{}, false
	}
	var rec record
	res := r.db.Lookup(a.Unmap())
	if !res.Found() || res.Decode(&rec) != nil {
		return risk.Location{}, false
	}
	cc := rec.Country.ISOCode
	if cc == "" {
		cc = rec.RegisteredCountry.ISOCode
	}
	if cc == "" {
		return risk.Location{}, false
	}
	loc := risk.Location{Country: cc}
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		loc.Lat, loc.Lon, loc.HasCoords = *rec.Location.Latitude, *rec.Location.Longitude, true
	} else if c, ok := Centroid(cc); ok {
		loc.Lat, loc.Lon, loc.HasCoords = c.Lat, c.Lon, true
	}
	return loc, true
}
