package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
)

func cmdAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, err := dbf.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.chain.VerifyStore(ctx, st)
	if err != nil {
		return err
	}
	if !res.OK {
		fmt.Fprintf(stdout, "broken: sequence %d (%d events verified before it)\n", res.BrokenAt, res.Events)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "ok: %d events\n", res.Events)
	return nil
}

func cmdAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	since := fs.String("since", "", "only events at or after this time (RFC 3339 or YYYY-MM-DD)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = time.Parse(time.RFC3339, *since); err != nil {
			if from, err = time.Parse(time.DateOnly, *since); err != nil {
				return fmt.Errorf("--since: %q is not RFC 3339 or YYYY-MM-DD", *since)
			}
		}
	}
	st, err := dbf.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	enc := json.NewEncoder(stdout)
	var werr error
	err = st.AuditRecords(ctx, 0, func(r audit.Record) bool {
		if r.At.Before(from) {
			return true
		}
		e, err := r.Decode()
		if err == nil {
			err = enc.Encode(e)
		}
		werr = err
		return err == nil
	})
	if err != nil {
		return err
	}
	return werr
}
