package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/config"
)

func cmdReportAdoption(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report adoption", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	configPath := fs.String("config", "", "configuration file (YAML), for the mandates and rollout phases")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	st, err := dbf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := newAuthService(st, cfg, slog.New(slog.DiscardHandler)).Adoption(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tENROLLED\tTOTAL\tPERCENT\tPAST DEADLINE\tFACTOR TYPES")
	for _, r := range append(rep.Roles, rep.Overall) {
		name := r.Role
		if name == "*" {
			name = "all users"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%d\t%s\n", name, r.Enrolled, r.Total, r.Percent, r.PastDeadline, types(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntarget: %.0f%% of users enrolled\n", auth.AdoptionTarget)
	if len(rep.PastDeadline) > 0 {
		fmt.Fprintf(stdout, "past their deadline without a second factor: %s\n", strings.Join(rep.PastDeadline, ", "))
	}
	return nil
}

func types(r auth.RoleAdoption) string {
	var out []string
	for t, n := range r.ByType {
		out = append(out, fmt.Sprintf("%s=%d", t, n))
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}
