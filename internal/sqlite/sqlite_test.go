package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/storetest"
)

// MustOpenDB returns a migrated database in a temporary folder.
func MustOpenDB(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	chain, _ := audit.NewChain(storetest.ChainKey)
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "ordergate.db"), chain, ordergate.SystemClock{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return MustOpenDB(t) })
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	chain, _ := audit.NewChain(storetest.ChainKey)
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.db")
	os.WriteFile(notDB, []byte("these are my notes, not a database"), 0o600)

	foreign := filepath.Join(dir, "other.db")
	other, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`CREATE TABLE recipes (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	other.Close()

	for _, path := range []string{notDB, foreign} {
		before, _ := os.ReadFile(path)
		_, err := sqlite.Open(context.Background(), path, chain, ordergate.SystemClock{})
		if err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("Open(%s) error = %v, want a refusal", filepath.Base(path), err)
		}
		after, _ := os.ReadFile(path)
		if string(before) != string(after) {
			t.Errorf("Open(%s) changed the file", filepath.Base(path))
		}
	}
}

func TestCloseTwice(t *testing.T) {
	db := MustOpenDB(t)
	if err := db.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	db.Close() // must not panic; the cleanup closes it a third time
}

// TestWALStaysBounded writes far more than the WAL may hold, without a
// pause, from one connection as ordergate's single writer does, and
// checks that checkpoints start the WAL over: once the writes stop, the
// background checkpoint must bring the file back within the size limit
// (its tick decides how large it grows meanwhile, so that is not
// asserted). A reader pinning an old snapshot would keep it large.
func TestWALStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 160 MiB")
	}
	db := MustOpenDB(t)
	if _, err := db.SQL().Exec(`CREATE TABLE scratch (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	blob := make([]byte, 1<<20)
	for i := range 160 {
		if _, err := w.ExecContext(ctx, `INSERT INTO scratch (b) VALUES (?)`, blob); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		if _, err := w.ExecContext(ctx, `DELETE FROM scratch`); err != nil {
			t.Fatal(err)
		}
	}
	wal := walPath(t, db)
	var size int64
	for deadline := time.Now().Add(30 * sqlite.CheckpointInterval); ; time.Sleep(sqlite.CheckpointInterval / 10) {
		fi, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		if size = fi.Size(); size <= 64<<20 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Errorf("WAL is %d MiB after 160 MiB of writes and 30 checkpoint intervals; want it started over", size>>20)
}

// walPath returns the WAL file of db's main database.
func walPath(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var seq int
	var name, file string
	if err := db.SQL().QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file + "-wal"
}
