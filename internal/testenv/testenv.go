// Package testenv lets tests find the real tools and services they need
// (PostgreSQL, oathtool, Chromium, nginx): a test skips with a clear
// message when one is missing on a developer's machine and fails instead
// when CI=true, so a missing tool never passes as a skipped test in CI.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// CI reports whether tests run in continuous integration.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips tb, or fails it under CI, because what is unavailable.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("%s is required when CI=true", what)
	}
	tb.Skipf("skipping: %s (install it or see .ci/run)", what)
}

// Tool returns the path of a command-line tool or skips/fails tb.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name+" not found on PATH")
	}
	return p
}

// PostgresDSN is the server tests use: $ORDERGATE_TEST_POSTGRES, or the
// local trust-auth server.
func PostgresDSN() string {
	if dsn := os.Getenv("ORDERGATE_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresSchema creates a fresh schema on the test server, drops it when
// tb ends, and returns a DSN whose search_path is that schema.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	base := PostgresDSN()
	db, err := sql.Open("pgx", base)
	if err != nil {
		Missing(tb, "PostgreSQL ("+err.Error()+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		Missing(tb, "PostgreSQL at "+base+" ("+err.Error()+")")
	}
	schema := fmt.Sprintf("t_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
