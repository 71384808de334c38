package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/postgres"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/storetest"
	"github.com/ordergate/ordergate/internal/testenv"
)

// MustOpenDB returns a migrated database in a fresh schema.
func MustOpenDB(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	dsn := testenv.PostgresSchema(tb)
	chain, _ := audit.NewChain(storetest.ChainKey)
	db, err := postgres.Open(context.Background(), dsn, chain, ordergate.SystemClock{})
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

func TestOpenUnreachableNamesHostNotPassword(t *testing.T) {
	chain, _ := audit.NewChain(storetest.ChainKey)
	_, err := postgres.Open(context.Background(), "postgres://bob:s3cret@127.0.0.1:1/db", chain, ordergate.SystemClock{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q; want one line naming 127.0.0.1:1 without the password", msg)
	}
}
