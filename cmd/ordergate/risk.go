package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/config"
	"github.com/ordergate/ordergate/internal/geoip"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/web"
)

// enableRisk turns on risk-based authentication, the device cookie and
// forward auth from the configuration. A missing or corrupt GeoIP file
// does not stop the start: one warning, and the country signals are off.
// The returned function closes the GeoIP database.
func enableRisk(svc *auth.Service, srv *web.Server, st *store, cfg *config.Config, publicURL string, log *slog.Logger) func() {
	t := cfg.Risk.Thresholds
	engine := risk.New(risk.Config{Thresholds: risk.Thresholds{SecondFactor: t.MFA, PhishingResistant: t.PhishingResistant, Deny: t.Deny},
		ImpossibleTravelKMH: cfg.Risk.ImpossibleTravelKMH}, ordergate.SystemClock{})
	svc.Adaptive = &auth.Adaptive{Engine: engine, Store: st, RememberRoles: cfg.RememberDevice.Roles,
		RememberFor: time.Duration(cfg.RememberDevice.Days) * 24 * time.Hour}
	closeFn := func() {}
	if p := cfg.Risk.GeoIPPath; p != "" {
		r, err := geoip.Open(p)
		if err != nil {
			log.Warn("geoip database unusable; country and travel signals are off", "event", "geoip.unavailable", "path", p, "err", err)
		} else {
			svc.Adaptive.Locator = r
			closeFn = func() { r.Close() }
			log.Info("geoip database loaded", "event", "geoip.loaded", "path", p, "type", r.DatabaseType())
		}
	}
	srv.DeviceKey = st.keys.DeriveKey("device-cookie")
	fa := &web.ForwardAuth{AllowedRedirectDomains: cfg.ForwardAuth.AllowedRedirectDomains,
		LoginURL: strings.TrimSuffix(publicURL, "/") + "/login"}
	for _, r := range cfg.ForwardAuth.Rules {
		fa.Rules = append(fa.Rules, web.ForwardRule{Host: r.Host, Path: r.Path, Require: r.Require, Roles: r.Roles})
	}
	srv.ForwardAuth = fa
	return closeFn
}

// cmdGeoIPBuild writes a GeoLite2-Country-shaped .mmdb built from Debian's
// tor-geoipdb files.
func cmdGeoIPBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("geoip build", flag.ContinueOnError)
	out := fs.String("out", "ordergate-country.mmdb", "file to write")
	v4 := fs.String("ipv4", geoip.TorGeoIPv4, "tor-geoipdb IPv4 file (first,last,CC with integer addresses)")
	v6 := fs.String("ipv6", geoip.TorGeoIPv6, "tor-geoipdb IPv6 file (first,last,CC); empty to skip")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	f4, err := os.Open(*v4)
	if err != nil {
		return fmt.Errorf("%w (install the Debian package tor-geoipdb or pass --ipv4)", err)
	}
	defer f4.Close()
	var r6 io.Reader
	if *v6 != "" {
		f6, err := os.Open(*v6)
		if err != nil {
			return err
		}
		defer f6.Close()
		r6 = f6
	}
	var buf bytes.Buffer
	start := time.Now()
	st, err := geoip.Build(&buf, f4, r6, time.Now())
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".geoip-*.mmdb")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d ranges, %d countries, %d skipped, %d bytes in %s (data: IPFire Location database, CC BY-SA 4.0)\n",
		*out, st.Ranges, st.Countries, st.Skipped, buf.Len(), time.Since(start).Round(time.Millisecond))
	return nil
}
