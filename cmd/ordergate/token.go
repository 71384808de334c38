package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// maxPSKCSize bounds the PSKC file token import reads.
const maxPSKCSize = 64 << 20

// cliActor is who the token commands act as in the audit chain.
var cliActor = ordergate.Actor{Kind: ordergate.ActorSystem, Name: "cli"}

// positional splits the one positional argument (FILE or SERIAL) that the
// token commands take before their flags.
func positional(name string, args []string, stderr io.Writer) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "missing %s: it comes before the flags\n", name)
		return "", nil, errUsage
	}
	return args[0], args[1:], nil
}

// openTokens opens the database and the token inventory on it.
func openTokens(ctx context.Context, dbf *dbFlags) (*store, *auth.Tokens, error) {
	st, err := dbf.open(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	return st, &auth.Tokens{Store: st, Sealer: st.keys, Clock: ordergate.SystemClock{}}, nil
}

// cmdTokenImport stores the keys of a PSKC file as unassigned hardware
// tokens, all of them or none.
func cmdTokenImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	file, args, err := positional("FILE.pskc", args, stderr)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("token import", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	pskHex := fs.String("psk-hex", "", "pre-shared key of an encrypted PSKC file, in hex (better: ORDERGATE_PSK_HEX, kept out of the process list)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	var psk []byte
	if *pskHex != "" {
		if psk, err = hex.DecodeString(strings.TrimSpace(*pskHex)); err != nil || len(psk) == 0 {
			return fmt.Errorf("--psk-hex: not a hex key")
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	doc, err := io.ReadAll(io.LimitReader(f, maxPSKCSize+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if len(doc) > maxPSKCSize {
		return fmt.Errorf("%s: larger than %d MiB", file, maxPSKCSize>>20)
	}
	st, tokens, err := openTokens(ctx, &dbf)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := tokens.Import(ctx, cliActor, doc, psk)
	clear(psk)
	if err != nil {
		return fmt.Errorf("%s: %s; nothing imported", file, describe(err))
	}
	for _, t := range ts {
		fmt.Fprintf(stdout, "imported %s token %s\n", t.Kind, t.Serial)
	}
	fmt.Fprintf(stdout, "%d tokens imported, unassigned\n", len(ts))
	return nil
}

// cmdTokenAssign makes a hardware token a confirmed factor of a user.
func cmdTokenAssign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	serial, args, err := positional("SERIAL", args, stderr)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("token assign", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	user := fs.String("user", "", "the user who gets the token")
	var codes stringList
	fs.Var(&codes, "code", "a code the token shows now; twice, for two consecutive codes, to resynchronise an HOTP token far ahead")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *user == "" || len(codes) > 2 {
		fmt.Fprintln(stderr, "--user is required, and --code may be given at most twice")
		return errUsage
	}
	st, tokens, err := openTokens(ctx, &dbf)
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := tokens.Assign(ctx, cliActor, serial, *user, codes)
	if err != nil {
		return fmt.Errorf("%s", describe(err))
	}
	fmt.Fprintf(stdout, "token %s is now factor %s (%s) of %s\n", serial, f.ID, f.Type, *user)
	return nil
}

// cmdTokenResync moves an assigned HOTP token's counter past two
// consecutive codes.
func cmdTokenResync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	serial, args, err := positional("SERIAL", args, stderr)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("token resync", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	var codes stringList
	fs.Var(&codes, "code", "two consecutive codes of the token, in order (give --code twice)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if len(codes) != 2 {
		fmt.Fprintln(stderr, "give --code twice: two consecutive codes of the token")
		return errUsage
	}
	st, tokens, err := openTokens(ctx, &dbf)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := tokens.Resync(ctx, cliActor, serial, codes[0], codes[1]); err != nil {
		return fmt.Errorf("%s", describe(err))
	}
	fmt.Fprintf(stdout, "token %s resynchronised\n", serial)
	return nil
}

// cmdTokenList lists hardware tokens and whom they are assigned to.
func cmdTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token list", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, tokens, err := openTokens(ctx, &dbf)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := tokens.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, t := range ts {
			enc.Encode(map[string]any{"serial": t.Serial, "kind": t.Kind, "manufacturer": t.Manufacturer,
				"user": t.Username, "factor_id": t.FactorID, "imported_at": t.ImportedAt, "assigned_at": t.AssignedAt})
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tKIND\tMANUFACTURER\tUSER\tIMPORTED")
	for _, t := range ts {
		user := t.Username
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Serial, t.Kind, t.Manufacturer, user, t.ImportedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// resealTokens re-encrypts under the primary key the seeds of hardware
// tokens sealed under an older one, for keys rotate, and returns n plus
// how many it re-encrypted.
func resealTokens(ctx context.Context, st *store, n int) (int, error) {
	err := st.AllHardwareTokenSecrets(ctx, func(serial string, sealed []byte) error {
		if !st.keys.NeedsReseal(sealed) {
			return nil
		}
		aad := auth.HardwareTokenAAD(serial)
		plain, err := st.keys.Open(sealed, aad)
		if err != nil {
			return fmt.Errorf("token %s: %w", serial, err)
		}
		resealed, err := st.keys.Seal(plain, aad)
		clear(plain)
		if err != nil {
			return err
		}
		n++
		return st.UpdateHardwareTokenSecret(ctx, serial, resealed)
	})
	return n, err
}
