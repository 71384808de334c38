package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/config"
)

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	username := fs.String("username", "", "login name")
	var roles, groups stringList
	fs.Var(&roles, "role", "role (repeatable): admin, approver, clerk, auditor")
	fs.Var(&groups, "group", "group (repeatable)")
	phone := fs.String("phone", "", "phone number in E.164 form, e.g. +14155550100")
	email := fs.String("email", "", "email address")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if !*pwStdin {
		fmt.Fprintln(stderr, "--password-stdin is required: passwords are never taken as arguments")
		return errUsage
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	st, err := dbf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := newAuthService(st, config.Default(), slog.New(slog.DiscardHandler))
	actor := ordergate.Actor{Kind: ordergate.ActorSystem, Name: "cli"}
	u, err := svc.CreateUser(ctx, actor, auth.NewUser{Username: *username, Password: password,
		Email: *email, Phone: *phone, Roles: roles, Groups: groups})
	if err != nil {
		return fmt.Errorf("%s", describe(err))
	}
	return json.NewEncoder(stdout).Encode(map[string]any{"id": u.ID, "username": u.Username, "roles": u.Roles})
}

// describe renders an error for the terminal, with the fields at fault.
func describe(err error) string {
	msg := ordergate.ErrorMessage(err)
	if ordergate.ErrorCode(err) == ordergate.EINTERNAL {
		return err.Error()
	}
	return msg
}

func cmdUserList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, err := dbf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, u := range users {
			enc.Encode(map[string]any{"id": u.ID, "username": u.Username, "roles": u.Roles, "groups": u.Groups,
				"disabled": u.Disabled, "created_at": u.CreatedAt, "last_login_at": u.LastLoginAt})
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLES\tGROUPS\tDISABLED\tLAST LOGIN")
	for _, u := range users {
		last := "never"
		if !u.LastLoginAt.IsZero() {
			last = u.LastLoginAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", u.ID, u.Username, strings.Join(u.Roles, ","), strings.Join(u.Groups, ","), u.Disabled, last)
	}
	return tw.Flush()
}
