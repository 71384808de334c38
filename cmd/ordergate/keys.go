package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/secret"
)

// cmdKeysRotate adds a new primary key to the master key file and
// re-encrypts every sealed secret in the database under it. Servers keep
// reading rows sealed under either key, so it runs while they serve.
func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, err := dbf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := secret.Rotate(st.keyFile)
	if err != nil {
		return err
	}
	if err := st.keys.Reload(); err != nil {
		return err
	}
	n := 0
	err = st.AllFactorSecrets(ctx, func(factorID, typ string, sealed []byte) error {
		if !st.keys.NeedsReseal(sealed) {
			return nil
		}
		aad := auth.FactorAAD(typ, factorID)
		plain, err := st.keys.Open(sealed, aad)
		if err != nil {
			return fmt.Errorf("factor %s: %w", factorID, err)
		}
		resealed, err := st.keys.Seal(plain, aad)
		clear(plain)
		if err != nil {
			return err
		}
		n++
		return st.UpdateFactorSecret(ctx, factorID, resealed)
	})
	if err != nil {
		return err
	}
	if n, err = resealTokens(ctx, st, n); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new primary key %s; re-encrypted %d secrets\n", id, n)
	return nil
}
