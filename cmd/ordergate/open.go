package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/postgres"
	"github.com/ordergate/ordergate/internal/secret"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// dbFlags are the flags every command that opens the database takes.
type dbFlags struct {
	db      string
	keyFile string
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.db, "db", "sqlite:ordergate.db", "database: sqlite:PATH or postgres://...")
	fs.StringVar(&f.keyFile, "key-file", "", "master key file (default: ordergate.key beside a SQLite database, else in the working folder)")
}

// store is an open database with the keyring that protects its secrets.
type store struct {
	*sqlstore.DB
	keys    *secret.Keyring
	keyFile string
	chain   *audit.Chain
}

// open opens the keyring and the database, and migrates it when migrate is
// true. The keyring is created on first use.
func (f *dbFlags) open(ctx context.Context, migrate bool) (*store, error) {
	path, isSQLite := sqlite.IsPath(f.db)
	keyFile := f.keyFile
	if keyFile == "" {
		keyFile = "ordergate.key"
		if isSQLite {
			keyFile = filepath.Join(filepath.Dir(path), "ordergate.key")
		}
	}
	keys, err := secret.LoadOrCreate(keyFile)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", keyFile, err)
	}
	chain, err := audit.NewChain(keys.DeriveKey("audit-chain"))
	if err != nil {
		return nil, err
	}
	var db *sqlstore.DB
	if isSQLite {
		db, err = sqlite.Open(ctx, path, chain, ordergate.SystemClock{})
	} else {
		db, err = postgres.Open(ctx, f.db, chain, ordergate.SystemClock{})
	}
	if err != nil {
		return nil, err
	}
	if migrate {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &store{DB: db, keys: keys, keyFile: keyFile, chain: chain}, nil
}
