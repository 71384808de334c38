package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/config"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/loadtest"
	"github.com/ordergate/ordergate/internal/order"
)

// cmdLoadtest drives a running ordergate over HTTP and prints what each
// step took.
func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	var urls stringList
	fs.Var(&urls, "url", "base URL of the server (repeatable: several processes are used round-robin)")
	scenario := fs.String("scenario", loadtest.ScenarioLoginTOTP, strings.Join(loadtest.Scenarios, ", "))
	users := fs.Int("users", 20, "users to provision (each logs in at most three times per 30 s TOTP step)")
	concurrency := fs.Int("concurrency", 8, "clients sending at once")
	duration := fs.Duration("duration", 30*time.Second, "stop after this long")
	requests := fs.Int("requests", 1000, "stop after this many iterations (logins, orders, approvals)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg := loadtest.Config{URLs: urls, Scenario: *scenario, Users: *users, Concurrency: *concurrency,
		Duration: *duration, Requests: *requests}
	if isTerminal(stdout) {
		cfg.Progress = stdout
		if *asJSON {
			cfg.Progress = stderr
		}
	}
	// Refuse bad numbers and names before opening the database.
	if err := loadtest.Check(cfg); err != nil {
		fmt.Fprintln(stderr, "ordergate loadtest:", strings.TrimPrefix(err.Error(), loadtest.ErrConfig.Error()+": "))
		return errUsage
	}
	st, err := dbf.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg.Provisioner = &provisioner{st: st}
	rep, err := loadtest.Run(ctx, cfg)
	if errors.Is(err, loadtest.ErrConfig) {
		fmt.Fprintln(stderr, "ordergate loadtest:", strings.TrimPrefix(err.Error(), loadtest.ErrConfig.Error()+": "))
		return errUsage
	} else if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// provisioner creates the load's users and sources in the database, as
// "user add" and "source add" do.
type provisioner struct{ st *store }

// AddUser implements loadtest.Provisioner.
func (p *provisioner) AddUser(ctx context.Context, username, password string, roles []string) error {
	svc := newAuthService(p.st, config.Default(), slog.New(slog.DiscardHandler))
	_, err := svc.CreateUser(ctx, ordergate.Actor{Kind: ordergate.ActorSystem, Name: "loadtest"},
		auth.NewUser{Username: username, Password: password, Roles: roles})
	if err != nil {
		return fmt.Errorf("add user %s: %s", username, describe(err))
	}
	return nil
}

// AddShopifySource implements loadtest.Provisioner.
func (p *provisioner) AddShopifySource(ctx context.Context, name string) (string, string, error) {
	svc := intake.NewService(p.st, p.st.keys, ordergate.SystemClock{}, slog.New(slog.DiscardHandler))
	src, secret, err := svc.AddSource(ctx, ordergate.Actor{Kind: ordergate.ActorSystem, Name: "loadtest"}, order.ChannelShopify, name, "")
	if err != nil {
		return "", "", fmt.Errorf("add source %s: %s", name, describe(err))
	}
	return src.ID, secret, nil
}
