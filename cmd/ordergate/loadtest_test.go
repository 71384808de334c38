package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadtestBadInput checks that every mistake on the load tool's
// command line is one clear line and exit code 2, before any load.
func TestLoadtestBadInput(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "og.db")
	unreachable := "http://" + freeAddr(t) // nothing listens there any more
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"--url", unreachable, "--scenario", "nope"}, `unknown scenario "nope"`},
		{"zero users", []string{"--url", unreachable, "--users", "0"}, "--users must be positive"},
		{"negative concurrency", []string{"--url", unreachable, "--concurrency", "-1"}, "--concurrency must be positive"},
		{"zero duration", []string{"--url", unreachable, "--duration", "0s"}, "--duration must be positive"},
		{"negative requests", []string{"--url", unreachable, "--requests", "-5"}, "--requests must be positive"},
		{"no url", []string{}, "--url is required"},
		{"relative url", []string{"--url", "localhost:8080"}, "not an absolute http(s) URL"},
		{"unreachable url", []string{"--url", unreachable}, "does not answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"loadtest", "--db", db}, tc.args...)
			err := run(context.Background(), args, strings.NewReader(""), &out, &errb)
			if !errors.Is(err, errUsage) {
				t.Fatalf("run(%q) = %v, want a usage error (exit 2)", args, err)
			}
			msg := errb.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) {
				t.Errorf("run(%q) wrote %q, want one line containing %q", args, msg, tc.want)
			}
		})
	}
}
