package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
