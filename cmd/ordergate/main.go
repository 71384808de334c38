// Command ordergate is the order management system's one binary: the
// server and its administration commands.
//
//	ordergate serve | migrate | user add | user list | audit verify | audit export
//
// Every flag also reads ORDERGATE_<FLAG> from the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: ordergate <command> [flags]

commands:
  serve          run the server
  migrate        apply database migrations
  user add       create a user (password read from stdin)
  user list      list users
  audit verify   check the audit chain
  audit export   write audit events as JSON lines
  keys rotate    add a new encryption key and re-encrypt secrets
  geoip build    build a country .mmdb from Debian's tor-geoipdb
  source add     register an order source (prints its secret once)
  report adoption  second-factor adoption per role
  token import   import hardware OATH tokens from a PSKC file
  token assign   make a hardware token a user's second factor
  token resync   resynchronise an HOTP token from two consecutive codes
  token list     list hardware tokens
  loadtest       drive a running server over HTTP and report latency per step

Every flag also reads ORDERGATE_<FLAG> from the environment (e.g. ORDERGATE_DB).
Run "ordergate <command> -h" for its flags.
`

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ordergate:", err)
		}
		var ec exitCode
		switch {
		case errors.As(err, &ec):
			os.Exit(int(ec))
		case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
			os.Exit(2)
		default:
			os.Exit(1)
		}
	}
}

// exitCode is an error that asks for a specific exit status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run runs one command; main and the tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "user" || cmd == "audit" || cmd == "keys" || cmd == "report" || cmd == "source" || cmd == "geoip" || cmd == "token") && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "user add":
		return cmdUserAdd(ctx, rest, stdin, stdout, stderr)
	case "user list":
		return cmdUserList(ctx, rest, stdout, stderr)
	case "audit verify":
		return cmdAuditVerify(ctx, rest, stdout, stderr)
	case "geoip build":
		return cmdGeoIPBuild(ctx, rest, stdout, stderr)
	case "audit export":
		return cmdAuditExport(ctx, rest, stdout, stderr)
	case "report adoption":
		return cmdReportAdoption(ctx, rest, stdout, stderr)
	case "source add":
		return cmdSourceAdd(ctx, rest, stdin, stdout, stderr)
	case "loadtest":
		return cmdLoadtest(ctx, rest, stdout, stderr)
	case "keys rotate":
		return cmdKeysRotate(ctx, rest, stdout, stderr)
	case "token import":
		return cmdTokenImport(ctx, rest, stdout, stderr)
	case "token assign":
		return cmdTokenAssign(ctx, rest, stdout, stderr)
	case "token resync":
		return cmdTokenResync(ctx, rest, stdout, stderr)
	case "token list":
		return cmdTokenList(ctx, rest, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from ORDERGATE_<NAME> (upper case, '-' as '_').
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "ORDERGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	return err
}

// stringList is a repeatable string flag; from the environment it takes a
// comma-separated list.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
