package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/loadtest"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/testenv"
)

// TestClusterSecondFactorAndThrottlePostgres runs two ordergate processes
// on one PostgreSQL schema: a login whose password step ran on one
// process finishes its second factor on the other, and failed attempts
// count towards the account throttle wherever they were made.
func TestClusterSecondFactorAndThrottlePostgres(t *testing.T) {
	c := newTOTPCluster(t)

	pending := c.login(t, c.a)
	status, body := call(t, "POST", c.b+"/api/v1/login/mfa", pending,
		map[string]string{"method": "totp", "code": c.code(c.enrolled.Add(30 * time.Second))})
	if status != 200 {
		t.Fatalf("second factor on b of a login begun on a = %d %v, want 200", status, body)
	}
	status, sess := call(t, "GET", c.a+"/api/v1/session", body["session_token"].(string), nil)
	if status != 200 || sess["aal"] != 2.0 {
		t.Errorf("the session on a after the second factor on b = %d %v, want 200 at aal 2", status, sess)
	}

	// The subtests run in order: a locked second factor does not stop the
	// password step, so the second-factor throttle is tried first.
	tests := []struct {
		name string
		// attempt makes one failed attempt on base, or (right) one that
		// would succeed were the account not throttled.
		attempt func(base string, right bool) (int, map[string]any)
		wrong   string
	}{
		{"totp", func(base string, right bool) (int, map[string]any) {
			code := c.code(time.Now())
			if !right {
				code = wrongCode(code)
			}
			return call(t, "POST", base+"/api/v1/login/mfa", pending, map[string]string{"method": "totp", "code": code})
		}, ordergate.ECODE},
		{"password", func(base string, right bool) (int, map[string]any) {
			pw := rootPassword
			if !right {
				pw = "not the admin passphrase"
			}
			return call(t, "POST", base+"/api/v1/login", "", map[string]string{"username": "root", "password": pw})
		}, ordergate.ECREDENTIALS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pending = c.login(t, c.a)
			// The free failures, split between the two processes.
			free := auth.AccountThrottle.Free
			for i := range free {
				base := c.a
				if i >= (free+1)/2 {
					base = c.b
				}
				if status, body := tc.attempt(base, false); status != 401 || body["error"] != tc.wrong {
					t.Fatalf("failed attempt %d of %d on %s = %d %v, want 401 %s", i+1, free, base, status, body, tc.wrong)
				}
			}
			for _, base := range []string{c.a, c.b} {
				status, body := tc.attempt(base, true)
				if retry, _ := body["retry_after"].(float64); status != 429 || body["error"] != ordergate.ERATELIMIT || retry <= 0 {
					t.Errorf("attempt %d on %s after %d failures on both = %d %v, want 429 %s with retry_after",
						free+1, base, free, status, body, ordergate.ERATELIMIT)
				}
			}
		})
	}
}

// wrongCode returns a code of the same length that differs from code.
func wrongCode(code string) string {
	d := (code[0]-'0'+1)%10 + '0'
	return string(d) + code[1:]
}

// TestConcurrentStartMigratesOncePostgres starts two ordergate processes
// at the same moment on a fresh PostgreSQL schema, several times: both
// become ready, and every migration is recorded once.
func TestConcurrentStartMigratesOncePostgres(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "internal", "sqlstore", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	var want []int
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	for round := range 3 {
		t.Run(fmt.Sprint("round", round+1), func(t *testing.T) {
			dsn := testenv.PostgresSchema(t)
			dir := t.TempDir()
			common := []string{"--db", dsn, "--key-file", filepath.Join(dir, "ordergate.key")}
			procs := []*serveProcess{launchProcess(t, bin, common...), launchProcess(t, bin, common...)}
			for _, p := range procs {
				p.waitReady(t)
			}
			db := openSQL(t, dsn)
			rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []int
			for rows.Next() {
				var v int
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("schema_migrations after two processes started at once = %v, want %v", got, want)
			}
		})
	}
}

// TestDatabaseOutagePostgres runs the load tool's mixed scenario against
// a server whose connections to PostgreSQL go through a TCP proxy, and
// cuts the proxy mid-run: while the database is unreachable, requests are
// answered 503 "unavailable"; once it is back, the server serves again
// without a restart; and nothing is half-written.
func TestDatabaseOutagePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a load")
	}
	dsn := testenv.PostgresSchema(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	proxy := startDBProxy(t, dsn)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ordergate.key")
	common := []string{"--db", dsn, "--key-file", keyFile}
	if out, err := runCmd(t, dir, rootPassword+"\n", append([]string{"user", "add", "--username", "root", "--role", "admin", "--password-stdin"}, common...)...); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	server := launchProcess(t, bin, "--db", proxy.DSN, "--key-file", keyFile)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the server's errors:\n%s", server.errorLines())
		}
	})
	server.waitReady(t)
	srv := server.URL
	status, body := call(t, "POST", srv+"/api/v1/login", "", map[string]string{"username": "root", "password": rootPassword})
	if status != 200 {
		t.Fatalf("login = %d %v", status, body)
	}
	token := body["session_token"].(string)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	loadDone := make(chan error, 1)
	go func() {
		loadDone <- run(ctx, append([]string{"loadtest", "--url", srv, "--scenario", "mixed", "--users", "24",
			"--concurrency", "4", "--requests", "100000", "--duration", "5m", "--json"}, common...), nil, &out, &errb)
	}()
	db := openSQL(t, dsn)
	// Cut once the load is taking orders in.
	waitFor(t, "the load to take orders in", 45*time.Second, func() bool { return countRows(t, db, `SELECT count(*) FROM orders`) >= 6 })
	proxy.cut()
	probes := []struct {
		method, path, token string
		body                any
	}{
		{"POST", "/api/v1/login", "", map[string]string{"username": "root", "password": rootPassword}},
		{"GET", "/api/v1/session", token, nil},
		{"GET", "/readyz", "", nil},
	}
	for _, p := range probes {
		status, body := call(t, p.method, srv+p.path, p.token, p.body)
		if status != 503 || body["error"] != ordergate.EUNAVAILABLE || body["message"] == "" {
			t.Errorf("%s %s while the database is unreachable = %d %v, want 503 %s with a message",
				p.method, p.path, status, body, ordergate.EUNAVAILABLE)
		}
	}
	// Let the load run into the outage for a while.
	time.Sleep(2 * time.Second)
	proxy.restore(t)

	waitFor(t, "a login after the database came back", 60*time.Second, func() bool {
		status, _ := call(t, "POST", srv+"/api/v1/login", "", map[string]string{"username": "root", "password": rootPassword})
		return status == 200
	})
	orders := countRows(t, db, `SELECT count(*) FROM orders`)
	// The mixed scenario paces its logins by 30-second TOTP steps, and an
	// intake may wait behind one, so allow more than a step.
	waitFor(t, "the load to take orders in again", 90*time.Second, func() bool {
		return countRows(t, db, `SELECT count(*) FROM orders`) > orders
	})
	// The load has shown that service resumed: stop it (it reports what it
	// did; requests cut short are not counted).
	cancel()
	if err := <-loadDone; err != nil {
		t.Fatalf("loadtest: %v %s", err, errb.String())
	}
	var rep loadtest.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("loadtest --json printed %q: %v", out.String(), err)
	}
	for _, s := range rep.Steps {
		for code, n := range s.ErrorCodes {
			if code != "503 "+ordergate.EUNAVAILABLE {
				t.Errorf("step %s: %d requests failed with %q, want only 503 %s", s.Step, n, code, ordergate.EUNAVAILABLE)
			}
		}
	}
	t.Logf("load: %d requests, %d failed during the outage", rep.Requests, rep.Errors)
	checkNothingHalfWritten(t, dir, common, db)
}

// TestKillDuringCSVImportPostgres streams a CSV file to ordergate, kills
// the process with SIGKILL while it stores the orders, restarts it and
// sends the same file again: every order of the file is stored exactly
// once, the orders stored before the kill are kept, and the audit chain
// verifies.
//
// The file holds 10,000 orders of two rows each, not more: CSV intake on
// PostgreSQL takes in 250 to 650 orders a second here, and the test must
// stay well under a minute.
func TestKillDuringCSVImportPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and imports a CSV file twice")
	}
	const rows = 10_000 // orders
	dsn := testenv.PostgresSchema(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	common := []string{"--db", dsn, "--key-file", filepath.Join(dir, "ordergate.key")}
	src, err := runCmd(t, dir, "", append([]string{"source", "add", "--channel", order.ChannelCSV, "--name", "bulk"}, common...)...)
	if err != nil {
		t.Fatalf("source add: %v %s", err, src)
	}
	var source struct{ Secret string }
	if err := json.Unmarshal([]byte(src), &source); err != nil || source.Secret == "" {
		t.Fatalf("source add printed %q: %v", src, err)
	}
	file := csvFile(rows)
	db := openSQL(t, dsn)

	first := launchProcess(t, bin, common...)
	first.waitReady(t)
	// The first 60% of the file is sent at once; the rest waits for the
	// kill, so that it comes while orders are being stored.
	pr, pw := io.Pipe()
	killed := make(chan struct{})
	go func() {
		cut := len(file) * 6 / 10
		if _, err := pw.Write(file[:cut]); err != nil {
			return
		}
		<-killed
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	answered := make(chan error, 1)
	go func() {
		status, _, err := postCSVFile(first.URL, source.Secret, pr)
		if err == nil {
			err = fmt.Errorf("answered %d", status)
		}
		answered <- err
	}()
	waitFor(t, "the first orders of the file to be stored", 30*time.Second, func() bool {
		return countRows(t, db, `SELECT count(*) FROM orders`) >= 2*intake.CSVBatchSize
	})
	if err := first.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Cmd.Wait()
	close(killed)
	if err := <-answered; err == nil || strings.HasPrefix(err.Error(), "answered") {
		t.Errorf("the upload to the killed process ended with %v, want a broken connection", err)
	}
	before := orderIDs(t, db)
	if len(before) == 0 || len(before) >= rows {
		t.Fatalf("%d of %d orders stored when the process was killed; want some, not all", len(before), rows)
	}

	second := startProcess(t, bin, common...)
	start := time.Now()
	status, sum, err := postCSVFile(second, source.Secret, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d orders stored before the kill; the file sent again took %v", len(before), rows, time.Since(start).Round(time.Millisecond))
	if status != 201 || sum.OrdersCreated != rows-len(before) || sum.Duplicates != len(before) || sum.ErrorCount != 0 {
		t.Errorf("sending the file again = %d %+v, want 201 with %d created, %d duplicates, no errors",
			status, sum, rows-len(before), len(before))
	}
	after := orderIDs(t, db)
	if len(after) != rows {
		t.Errorf("%d orders stored after the file was sent again, want %d", len(after), rows)
	}
	for id, ext := range before {
		if after[id] != ext {
			t.Errorf("order %s (%s), stored before the kill, is %q after the file was sent again", id, ext, after[id])
			break
		}
	}
	var exts []string
	for _, ext := range after {
		exts = append(exts, ext)
	}
	slices.Sort(exts)
	if n := len(slices.Compact(exts)); n != rows {
		t.Errorf("%d distinct external ids among %d orders, want %d", n, len(after), rows)
	}
	checkNothingHalfWritten(t, dir, common, db)
}

// csvFile returns a CSV file of n orders, two rows (lines) each, with
// external ids 1 to n.
func csvFile(n int) []byte {
	var b bytes.Buffer
	b.WriteString("order_id,placed_at,currency,customer_name,customer_email,sku,title,quantity,unit_price,tax\n")
	for i := 1; i <= n; i++ {
		for line := range 2 {
			fmt.Fprintf(&b, "%d,2026-11-27T09:00:00Z,EUR,Customer %d,c%d@example.com,SKU-%d,Widget %d,%d,%d.%02d,0.19\n",
				i, i, i, line, line, 1+i%3, 1+i%50, i%100)
		}
	}
	return b.Bytes()
}

// csvAnswer is the summary of a CSV upload.
type csvAnswer struct {
	OrdersCreated int `json:"orders_created"`
	Duplicates    int `json:"duplicates"`
	ErrorCount    int `json:"error_count"`
}

// postCSVFile streams body to the CSV intake of the server at base.
func postCSVFile(base, key string, body io.Reader) (int, csvAnswer, error) {
	var sum csvAnswer
	req, err := http.NewRequest("POST", base+"/api/v1/intake/csv", body)
	if err != nil {
		return 0, sum, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, sum, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, sum, err
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		return resp.StatusCode, sum, fmt.Errorf("answer %d %s: %w", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, sum, nil
}

// orderIDs returns the external id of every stored order by order ID.
func orderIDs(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT id, external_id FROM orders`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]string{}
	for rows.Next() {
		var id, ext string
		if err := rows.Scan(&id, &ext); err != nil {
			t.Fatal(err)
		}
		ids[id] = ext
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkNothingHalfWritten checks the database after a fault: the audit
// chain verifies, no order is stored twice, and every order has the audit
// event of its delivery (and of its approval, once approved).
func checkNothingHalfWritten(t *testing.T, dir string, common []string, db *sql.DB) {
	t.Helper()
	out, err := runCmd(t, dir, "", append([]string{"audit", "verify"}, common...)...)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify = %v %q", err, out)
	}
	for _, tc := range []struct{ name, query string }{
		{"orders stored twice", `SELECT count(*) FROM (SELECT 1 FROM orders GROUP BY channel, source, external_id HAVING count(*) > 1) d`},
		{"orders without their delivery's audit event", `SELECT count(*) FROM orders o WHERE NOT EXISTS
			(SELECT 1 FROM audit_events a WHERE a.order_id = o.id AND a.action = '` + order.EventReceived + `')`},
		{"approved orders without their approval's audit event", `SELECT count(*) FROM orders o WHERE o.status = 'approved' AND NOT EXISTS
			(SELECT 1 FROM audit_events a WHERE a.order_id = o.id AND a.action = '` + order.EventApproved + `')`},
		{"delivery audit events without their order", `SELECT count(*) FROM audit_events a WHERE a.action = '` + order.EventReceived + `'
			AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.order_id)`},
	} {
		if got := countRows(t, db, tc.query); got != 0 {
			t.Errorf("%s = %d, want 0", tc.name, got)
		}
	}
}

// openSQL opens dsn for the test's own queries.
func openSQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// countRows runs a query that returns one number.
func countRows(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitFor polls done until it reports true, failing t after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !done(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
	}
}

// dbProxy forwards TCP connections to the PostgreSQL server of a DSN, so
// that a test can make the database unreachable for one server without
// stopping PostgreSQL, which other tests share.
type dbProxy struct {
	// DSN is the DSN given, pointing at the proxy.
	DSN    string
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// startDBProxy starts a proxy to the server of dsn, a postgres:// URL,
// until the test ends.
func startDBProxy(t *testing.T, dsn string) *dbProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		t.Fatalf("the proxy needs a postgres:// URL with a host, not %s", u.Redacted())
	}
	p := &dbProxy{target: u.Host, conns: map[net.Conn]bool{}}
	if u.Port() == "" {
		p.target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p.addr = freeAddr(t)
	p.restore(t)
	u.Host = p.addr
	p.DSN = u.String()
	t.Cleanup(p.cut)
	return p
}

// restore listens again: new connections reach PostgreSQL.
func (p *dbProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

// forward copies between c and a new connection to PostgreSQL.
func (p *dbProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// cut closes every connection and refuses new ones until restore.
func (p *dbProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}
