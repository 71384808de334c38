// Package postgres opens ordergate on PostgreSQL through pgx v5, so that
// several ordergate processes can share one database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

var blobType = regexp.MustCompile(`\bBLOB\b`)

// Dialect is PostgreSQL's dialect: native $N placeholders; migrations wait
// for a transaction-scoped advisory lock.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:          "postgres",
		Rebind:        func(q string) string { return q },
		Translate:     func(sql string) string { return blobType.ReplaceAllString(sql, "BYTEA") },
		MigrationLock: `SELECT pg_advisory_xact_lock(1330791495)`,
		IsUniqueViolation: func(err error) bool {
			var e *pgconn.PgError
			return errors.As(err, &e) && e.Code == "23505"
		},
		IsConnectionError: isConnectionError,
	}
}

// isConnectionError reports whether err means the server refused or lost
// the connection: a failed connect, a network error or a connection cut
// mid-reply, a connection pgx closed after such an error, or the server's
// own word that it is shutting down, crashed or is starting (SQLSTATE
// class 08 and 57P01–57P03).
func isConnectionError(err error) bool {
	// A deadline or cancellation is the caller's: context.DeadlineExceeded
	// is a net.Error too, and pgconn wraps it. The ping decides then.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// Open connects to the PostgreSQL database at dsn and checks that it
// answers. Its errors name the host, never the password.
func Open(ctx context.Context, dsn string, chain *audit.Chain, clock ordergate.Clock) (*sqlstore.DB, error) {
	cfg, err := pgconnConfig(dsn)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres at %s:%d unreachable: %s", cfg.Host, cfg.Port, pgReason(err))
	}
	return sqlstore.New(db, Dialect(), chain, clock), nil
}

func pgconnConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN %s: invalid", Redact(dsn))
	}
	return cfg, nil
}

// pgReason is the cause of a connection failure without the DSN in it.
func pgReason(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	for errors.Unwrap(err) != nil {
		err = errors.Unwrap(err)
	}
	if err == context.DeadlineExceeded {
		return "no answer within 10s"
	}
	return strings.SplitN(err.Error(), "\n", 2)[0]
}

// Redact returns dsn with any password replaced by "xxxxx".
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}
