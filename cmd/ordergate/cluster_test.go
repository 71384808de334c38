package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/loadtest"
	"github.com/ordergate/ordergate/internal/postgres"
	"github.com/ordergate/ordergate/internal/testenv"
)

// TestClusterMixedLoadPostgres runs two ordergate processes on one
// PostgreSQL schema and drives them round-robin with the load tool's
// mixed scenario (TOTP logins whose second factor goes to the other
// process, signed Shopify intake, submit and four-eyes approval). Every
// request must succeed; afterwards the audit chain verifies as one chain,
// no order is stored twice, and the same delivery sent to both processes
// at once yields one order.
func TestClusterMixedLoadPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two servers")
	}
	dsn := testenv.PostgresSchema(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	common := []string{"--db", dsn, "--key-file", filepath.Join(dir, "ordergate.key")}
	if out, err := runCmd(t, dir, "", append([]string{"migrate"}, common...)...); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	a := startProcess(t, bin, common...)
	b := startProcess(t, bin, common...)

	out, err := runCmd(t, dir, "", append([]string{"loadtest", "--url", a, "--url", b, "--scenario", "mixed",
		"--users", "12", "--concurrency", "4", "--requests", "36", "--duration", "2m", "--json"}, common...)...)
	if err != nil {
		t.Fatalf("loadtest: %v %s", err, out)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("loadtest --json printed %q: %v", out, err)
	}
	steps := map[string]int{}
	for _, s := range rep.Steps {
		steps[s.Step] = s.Count
		if s.Errors > 0 {
			t.Errorf("step %s: %d errors of %d: %v", s.Step, s.Errors, s.Count, s.ErrorCodes)
		}
	}
	// 36 iterations: 12 logins (password + TOTP), 12 orders delivered, 12
	// orders delivered, submitted and approved.
	for _, tc := range []struct {
		step string
		want int
	}{{"password", 12}, {"second_factor", 12}, {"intake", 24}, {"submit", 12}, {"approval", 12}} {
		if got := steps[tc.step]; got != tc.want {
			t.Errorf("step %s made %d requests, want %d", tc.step, got, tc.want)
		}
	}

	// The same delivery sent to both processes at once is one order.
	secret := "cluster-test-webhook-secret"
	src, err := runCmd(t, dir, secret+"\n", append([]string{"source", "add", "--channel", "shopify", "--name", "race", "--secret-stdin"}, common...)...)
	if err != nil {
		t.Fatalf("source add: %v %s", err, src)
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "internal", "intake", "shopify", "testdata", "python-order.json"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, base := range []string{a, b} {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", base+"/api/v1/intake/shopify", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Shopify-Hmac-Sha256", sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	if got := fmt.Sprint(statuses); got != "[201 200]" && got != "[200 201]" {
		t.Errorf("one delivery sent to two processes at once answered %s, want one 201 and one 200", got)
	}

	chain, _ := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
	db, err := postgres.Open(context.Background(), dsn, chain, ordergate.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"orders stored twice", `SELECT count(*) FROM (SELECT 1 FROM orders GROUP BY channel, source, external_id HAVING count(*) > 1) d`, 0},
		{"orders", `SELECT count(*) FROM orders`, 25},
		{"approved orders", `SELECT count(*) FROM orders WHERE status = 'approved'`, 12},
	} {
		var got int
		if err := db.SQL().QueryRow(tc.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, got, tc.want)
		}
	}
	out, err = runCmd(t, dir, "", append([]string{"audit", "verify"}, common...)...)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify after two processes wrote under load = %v %q", err, out)
	}
}
