// Package sqlite opens ordergate's embedded default database: a SQLite file
// through modernc.org/sqlite (no cgo), in WAL mode, with its migrations.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ApplicationID marks a SQLite file as an ordergate database ("ORDG").
const ApplicationID = 1330791495

var placeholder = regexp.MustCompile(`\$(\d+)`)

// Dialect is SQLite's dialect: "?N" placeholders.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:   "sqlite",
		Rebind: func(q string) string { return placeholder.ReplaceAllString(q, "?$1") },
		IsUniqueViolation: func(err error) bool {
			var e *sqlite.Error
			return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
		},
	}
}

// DSN returns the connection string for path: WAL, a busy timeout, foreign
// keys on, and BEGIN IMMEDIATE so a transaction that reads before it writes
// waits for the write lock instead of failing with "database is locked".
// Automatic checkpoints only start at a WAL of 64 MiB, a backstop: a
// committing request would otherwise pay for copying the WAL into the
// database and syncing it every 4 MiB; Open checkpoints in the background
// instead. Whenever the WAL starts over, SQLite truncates a file grown
// past 64 MiB back to that size (journal_size_limit), so writes faster
// than the background checkpoint's second cannot leave it large.
func DSN(path string) string {
	v := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)",
		"wal_autocheckpoint(16384)", "journal_size_limit(67108864)"} {
		v.Add("_pragma", p)
	}
	v.Set("_txlock", "immediate")
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating when missing) the ordergate database at path. It
// refuses, without changing it, a file that is not SQLite or that another
// program created.
func Open(ctx context.Context, path string, chain *audit.Chain, clock ordergate.Clock) (*sqlstore.DB, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if err := checkHeader(path); err != nil {
			return nil, err
		}
	} else if errors.Is(err, os.ErrNotExist) {
		// Create the file private to its owner: it holds password hashes.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create sqlite %s: %w", path, err)
		}
		if f != nil {
			f.Close()
		}
	}
	if err := checkOwner(ctx, path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Keep every reader open: with database/sql's default of two idle
	// connections a busy server reopened readers all the time, each
	// reading the schema and preparing its statements again.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	writer, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	if _, err := writer.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		db.Close()
		writer.Close()
		return nil, fmt.Errorf("mark sqlite %s as ordergate's: %w", path, err)
	}
	s := sqlstore.New(db, Dialect(), chain, clock)
	s.SetWriter(writer)
	ckpt, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	s.OnClose(checkpointEvery(ckpt, writer, CheckpointInterval))
	return s, nil
}

// CheckpointInterval is how often the WAL is copied into the database.
const CheckpointInterval = time.Second

// restartFrames is the WAL length, in frames (pages), beyond which the
// background checkpoint also starts the WAL over (4096 frames: 16 MiB).
const restartFrames = 4096

// checkpointEvery copies the WAL into the database every interval on its
// own connection, without blocking readers or the writer (PASSIVE). A
// writer that never pauses keeps a passive checkpoint from ever reaching
// the WAL's end, so the file would grow without bound: once it passes
// restartFrames, the checkpoint runs on the one writing connection
// (writer), between two write transactions, and truncates the WAL. It
// returns the function that stops it with a last, full checkpoint.
func checkpointEvery(db, writer *sql.DB, interval time.Duration) func() error {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var busy, frames, copied int
				if db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied) == nil && frames > restartFrames {
					writer.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
				}
			}
		}
	}()
	// Closing the store twice must not close the channel twice.
	return sync.OnceValue(func() error {
		close(stop)
		<-done
		_, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		return errors.Join(err, db.Close())
	})
}

// checkHeader reads the file's first bytes before SQLite may touch it.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 16)
	if _, err := f.Read(head); err != nil || string(head) != "SQLite format 3\x00" {
		return fmt.Errorf("%s is not a SQLite database; refusing to touch it", path)
	}
	return nil
}

// checkOwner refuses a SQLite file another program created: one that
// holds tables but not ordergate's application id. It reads through a
// read-only connection without ordergate's pragmas, which would otherwise
// switch a foreign file to WAL before it is refused.
func checkOwner(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer db.Close()
	var appID, tables int
	if err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return fmt.Errorf("read sqlite %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name <> 'schema_migrations'`).Scan(&tables); err != nil {
		return fmt.Errorf("read sqlite %s: %w", path, err)
	}
	if appID != ApplicationID && tables > 0 {
		return fmt.Errorf("%s belongs to another program (not an ordergate database); refusing to touch it", path)
	}
	return nil
}

// IsPath reports whether a --db value names a SQLite database, and returns
// its file path.
func IsPath(db string) (string, bool) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return "", false
	}
	return strings.TrimPrefix(db, "sqlite:"), true
}
