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

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/config"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
)

// cmdSourceAdd registers an order source and prints its secret once.
func cmdSourceAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("source add", flag.ContinueOnError)
	var dbf dbFlags
	dbf.register(fs)
	channel := fs.String("channel", "", "shopify, woocommerce, amazon, edi850 or csv")
	name := fs.String("name", "", "the source's name, unique (e.g. main-shop)")
	secretStdin := fs.Bool("secret-stdin", false, "Shopify/WooCommerce: read the channel's webhook secret from stdin instead of generating one")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *channel == "" || *name == "" {
		fmt.Fprintln(stderr, "--channel and --name are required")
		return errUsage
	}
	var secret string
	if *secretStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read secret: %w", err)
		}
		if secret = strings.TrimRight(line, "\r\n"); secret == "" {
			return fmt.Errorf("--secret-stdin: stdin holds no secret")
		}
	}
	st, err := dbf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := intake.NewService(st, st.keys, ordergate.SystemClock{}, slog.New(slog.DiscardHandler))
	actor := ordergate.Actor{Kind: ordergate.ActorSystem, Name: "cli"}
	src, plain, err := svc.AddSource(ctx, actor, *channel, *name, secret)
	if err != nil {
		return fmt.Errorf("%s", describe(err))
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"id": src.ID, "channel": src.Channel, "name": src.Name, "secret": plain})
}

// approvalRules turns the approvals: configuration into order rules.
func approvalRules(cfg *config.Config) []order.Rule {
	var rules []order.Rule
	for _, a := range cfg.Approvals {
		rules = append(rules, order.Rule{Action: a.Action, Above: a.Above, Methods: a.Methods,
			MaxAge: a.MaxAge.Duration, Approvers: a.Approvers})
	}
	return rules
}
