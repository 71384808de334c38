package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/password"
	"github.com/ordergate/ordergate/internal/config"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/web"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	configPath := fs.String("config", "", "configuration file (YAML)")
	publicURL := fs.String("public-url", "", "URL users reach ordergate at (default http://localhost:PORT on a loopback address, else http://ADDR)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM)")
	tlsKey := fs.String("tls-key", "", "TLS key file (PEM)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	// At most one password derivation per CPU runs at a time; the rest of
	// the server keeps as many Ps as there are CPUs beside them.
	procs := password.ReserveProcs()
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	if *publicURL == "" {
		*publicURL = defaultPublicURL(*addr)
	}
	pub, err := url.Parse(*publicURL)
	if err != nil || pub.Host == "" {
		return fmt.Errorf("--public-url: %q is not an absolute URL", *publicURL)
	}

	st, err := dbf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()

	svc := newAuthService(st, cfg, log)
	if svc.Recovery, err = newRecovery(st, cfg, dbf.db, pub, log); err != nil {
		return err
	}
	go svc.RunNotifier(ctx, notifyInterval)
	if err := enableWebAuthn(svc, st, cfg, pub.String(), log); err != nil {
		return err
	}
	srv := web.NewServer(svc, st, web.NewMetrics(), log)
	srv.TrustedProxies = cfg.ProxyPrefixes
	closeGeoIP := enableRisk(svc, srv, st, cfg, pub.String(), log)
	defer closeGeoIP()
	srv.Secure = pub.Scheme == "https" || *tlsCert != ""
	srv.Chain, srv.Config, srv.PublicURL = st.chain, cfg, pub.String()
	orders := order.NewService(st, ordergate.SystemClock{}, approvalRules(cfg))
	// Step-ups for order actions are one-time grants bound to the order.
	grants := order.NewGrants(st, ordergate.SystemClock{}, orders.Rules)
	orders.StepUp = grants
	// Risk weighs each approval against the approver's past approvals.
	orders.Risk = svc
	srv.EnableOrders(intake.NewService(st, st.keys, ordergate.SystemClock{}, log), orders)
	srv.EnableStepUpGrants(grants)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "event", "server.start", "addr", ln.Addr().String(), "db", st.Dialect(), "public_url", pub.String(), "gomaxprocs", procs, "password_workers", password.Workers())
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "event", "server.stop")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, err := dbf.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migrations\n", n)
	return nil
}

// newAuthService builds the identity service from the configuration.
func newAuthService(st *store, cfg *config.Config, log *slog.Logger) *auth.Service {
	svc := auth.NewService(st, st.keys, ordergate.SystemClock{}, log)
	timeouts := func(t config.Timeouts) auth.Timeouts {
		return auth.Timeouts{Idle: t.Idle.Duration, Absolute: t.Absolute.Duration}
	}
	svc.Sessions.AAL1 = timeouts(cfg.Sessions.AAL1)
	svc.Sessions.AAL2 = timeouts(cfg.Sessions.AAL2)
	svc.Sessions.AAL3 = timeouts(cfg.Sessions.AAL3)
	svc.Policy = auth.Policy{MandatoryRoles: cfg.MFA.MandatoryRoles, PhishingResistantRoles: cfg.MFA.PhishingResistantRoles,
		TrustedNetworks: cfg.TrustedPrefixes, Available: []string{auth.MethodTOTP, auth.MethodSMS, auth.MethodBackupCode},
		SMSForbiddenRoles: cfg.SMS.ForbiddenRoles}
	for _, r := range cfg.MFA.Rollout {
		svc.Policy.Rollout = append(svc.Policy.Rollout, auth.Phase{Roles: r.Roles, Methods: r.Methods,
			EnforceFrom: r.EnforceFrom.Time, Grace: time.Duration(r.GraceDays) * 24 * time.Hour})
	}
	return svc
}

// defaultPublicURL is where users reach a server listening on addr. On a
// loopback address it names localhost: browsers accept WebAuthn there (an
// IP address cannot be a relying party ID, and localhost counts as a
// secure context over plain HTTP).
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip, err := netip.ParseAddr(host); (err == nil && ip.IsLoopback()) || host == "localhost" {
		return "http://" + net.JoinHostPort("localhost", port)
	}
	return "http://" + addr
}
