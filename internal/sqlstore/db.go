// Package sqlstore implements every ordergate Store over database/sql, once,
// for both SQLite and PostgreSQL. The few things the two engines do
// differently (placeholders, unique-violation and lost-connection errors,
// migration locking, schema types) come from a Dialect that the sqlite and
// postgres packages provide together with their embedded migrations.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// Dialect is what differs between database engines.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Rebind rewrites a query written with $1, $2… placeholders.
	Rebind func(query string) string
	// IsUniqueViolation reports whether err is a unique-constraint error.
	IsUniqueViolation func(err error) bool
	// MigrationLock, when set, is run first in every migration transaction
	// so that several processes starting at once migrate one at a time.
	MigrationLock string
	// Translate rewrites a migration's SQL for the engine; nil keeps it.
	Translate func(sql string) string
	// IsConnectionError reports whether err means that the connection to
	// the database was refused or lost (the server stopped, restarted or
	// cannot be reached), not that a statement failed; nil for an engine
	// without connections to lose.
	IsConnectionError func(err error) bool
}

// migrations are written once, in SQL both engines take: BIGINT times,
// BOOLEAN flags, DOUBLE PRECISION coordinates; BLOB, which PostgreSQL
// calls BYTEA, is the one type name a Dialect translates.
//
//go:embed migrations/*.sql
var migrations embed.FS

// DB is an ordergate database. Its methods implement the domain stores.
type DB struct {
	db *sql.DB
	// writer runs transactions; it is db unless SetWriter gave another.
	writer  *sql.DB
	dialect Dialect
	chain   *audit.Chain
	clock   ordergate.Clock
	// head is the audit head this process wrote last (appendAudit)
	// when SetWriter gave a single writing connection; nil otherwise.
	head *headCache
	// rebound caches rebound query text by the text written.
	rebound sync.Map
	// writeStmts and readStmts cache prepared statements when SetWriter
	// gave a single writing connection (SQLite); nil otherwise.
	writeStmts, readStmts *stmtCache
	// batches groups concurrent writes (order intake, second factors)
	// into shared transactions when there is a single writing
	// connection; nil otherwise.
	batches *batcher
	// closers run first on Close (OnClose).
	closers []func() error
}

// New wraps an open database. chain links audit events; clock stamps rows.
func New(db *sql.DB, d Dialect, chain *audit.Chain, clock ordergate.Clock) *DB {
	return &DB{db: db, writer: db, dialect: d, chain: chain, clock: clock}
}

// SetWriter makes transactions run on w and reads on the pool given to
// New. SQLite takes one writer at a time: a pool of one writing
// connection queues writers fairly in Go instead of in SQLite's busy
// handler, which sleeps and retries.
//
// Statements are then prepared once and kept: SQLite compiles each
// unprepared statement again, which costs more than running it.
func (db *DB) SetWriter(w *sql.DB) {
	db.writer = w
	db.writeStmts, db.readStmts = newStmtCache(w, true), newStmtCache(db.db, false)
	db.batches = newBatcher(db)
	db.head = &headCache{}
}

// SQL returns the underlying database handle.
func (db *DB) SQL() *sql.DB { return db.db }

// Dialect returns the database engine's name.
func (db *DB) Dialect() string { return db.dialect.Name }

// Close closes the database.
func (db *DB) Close() error {
	if db.batches != nil {
		db.batches.stop()
	}
	if db.writeStmts != nil {
		db.writeStmts.close()
		db.readStmts.close()
	}
	var errs []error
	for _, f := range db.closers {
		errs = append(errs, f())
	}
	if db.writer != db.db {
		errs = append(errs, db.writer.Close())
	}
	return errors.Join(append(errs, db.db.Close())...)
}

// OnClose runs f when the database closes, before its pools close.
func (db *DB) OnClose(f func() error) { db.closers = append(db.closers, f) }

// Ping reports whether the database answers; EUNAVAILABLE when it does not.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return &ordergate.Error{Code: ordergate.EUNAVAILABLE, Message: "database unreachable"}
	}
	return nil
}

// Unreachable reports whether err, an unexpected error from one of db's
// methods, came from a database that does not answer: err says the
// connection was refused or lost, or a ping fails within two seconds. The
// first holds even when the database answers again by the time of the
// check, as after a restart that dropped a connection in use.
func (db *DB) Unreachable(ctx context.Context, err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		(db.dialect.IsConnectionError != nil && db.dialect.IsConnectionError(err)) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	return db.Ping(ctx) != nil
}

// q returns query with placeholders the engine understands.
func (db *DB) q(query string) string {
	if q, ok := db.rebound.Load(query); ok {
		return q.(string)
	}
	q := db.dialect.Rebind(query)
	if len(query) < 4096 {
		db.rebound.Store(query, q)
	}
	return q
}

// Tx is a transaction with the database's dialect.
type Tx struct {
	tx  *sql.Tx
	db  *DB
	now time.Time
	// touched lists the sources touchSource updated in this transaction.
	touched []string
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := tx.db.q(query)
	if s := tx.txStmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := tx.db.q(query)
	if s := tx.txStmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, q, args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := tx.db.q(query)
	if s := tx.txStmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// inTx runs fn in a write transaction and commits when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, db: db, now: db.clock.Now()}
	if db.writeStmts != nil {
		defer db.writeStmts.prepareWanted(ctx)
	}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := db.q(query)
	if s := db.readStmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return db.db.QueryRowContext(ctx, q, args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := db.q(query)
	if s := db.readStmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return db.db.QueryContext(ctx, q, args...)
}

// Migrate applies the migrations not yet applied, each in its own
// transaction, and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	// Under the migration lock too: PostgreSQL's CREATE TABLE IF NOT
	// EXISTS is not safe against itself, and two processes starting at
	// once would both try to create the table.
	err := db.inTx(ctx, func(tx *Tx) error {
		if db.dialect.MigrationLock != "" {
			if _, err := tx.tx.ExecContext(ctx, db.dialect.MigrationLock); err != nil {
				return err
			}
		}
		_, err := tx.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return 0, err
	}
	slices.Sort(names)
	applied := 0
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("migration %s: name must start with its number", name)
		}
		raw, err := fs.ReadFile(migrations, name)
		if err != nil {
			return applied, err
		}
		body := string(raw)
		if db.dialect.Translate != nil {
			body = db.dialect.Translate(body)
		}
		did := false
		err = db.inTx(ctx, func(tx *Tx) error {
			if db.dialect.MigrationLock != "" {
				if _, err := tx.tx.ExecContext(ctx, db.dialect.MigrationLock); err != nil {
					return err
				}
			}
			var n int
			if err := tx.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, body); err != nil {
				return err
			}
			did = true
			_, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				version, path.Base(name), micros(tx.now))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", name, err)
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

// micros stores a time as microseconds since the Unix epoch; zero stays 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros.
func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// notFound converts sql.ErrNoRows into an ENOTFOUND error about what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ordergate.Errorf(ordergate.ENOTFOUND, "%s not found", what)
	}
	return err
}

// newID returns a new random identifier with a type prefix, e.g. "usr_…".
func newID(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text()[:20])
}
