package postgres_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/postgres"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/storetest"
	"github.com/ordergate/ordergate/internal/testenv"
)

// MustOpenDB returns a migrated database in a fresh schema.
func MustOpenDB(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	dsn := testenv.PostgresSchema(tb)
	chain, _ := audit.NewChain(storetest.ChainKey)
	db, err := postgres.Open(context.Background(), dsn, chain, ordergate.SystemClock{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return MustOpenDB(t) })
}

func TestOpenUnreachableNamesHostNotPassword(t *testing.T) {
	chain, _ := audit.NewChain(storetest.ChainKey)
	_, err := postgres.Open(context.Background(), "postgres://bob:s3cret@127.0.0.1:1/db", chain, ordergate.SystemClock{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q; want one line naming 127.0.0.1:1 without the password", msg)
	}
}

// TestConnectionErrors checks which of the driver's errors the dialect
// counts as a lost or refused connection, on a real server: a backend
// the server terminates (as a restart does), the connection left closed
// after it, a connection the network cuts and a refused connect do; a
// failed statement and one past its deadline do not.
func TestConnectionErrors(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	isLost := postgres.Dialect().IsConnectionError
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	victim, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(ctx)
	if _, err := victim.Exec(ctx, `SELECT nme FROM no_such_table`); err == nil || isLost(err) {
		t.Errorf("failed statement: %v counts as a lost connection", err)
	}
	slow, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close(ctx)
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = slow.Exec(short, `SELECT pg_sleep(1)`)
	cancelShort()
	if err == nil || isLost(err) {
		t.Errorf("statement past its deadline: %v counts as a lost connection", err)
	}
	killer, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	if _, err := killer.Exec(ctx, `SELECT pg_terminate_backend($1)`, victim.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"terminated backend", "closed connection"} {
		if _, err := victim.Exec(ctx, `SELECT 1`); err == nil || !isLost(err) {
			t.Errorf("%s: %v does not count as a lost connection", step, err)
		}
	}
	// A network that drops the connection says nothing before it goes.
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- c
		s, err := net.Dial("tcp", server)
		if err != nil {
			c.Close()
			return
		}
		defer s.Close()
		go io.Copy(s, c)
		io.Copy(c, s)
	}()
	cfg.Host, cfg.Port = "127.0.0.1", uint16(ln.Addr().(*net.TCPAddr).Port)
	viaNet, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer viaNet.Close(ctx)
	// Cut while a reply is awaited: the rows end in "unexpected EOF".
	cut := <-accepted
	time.AfterFunc(200*time.Millisecond, func() { cut.Close() })
	rows, err := viaNet.Query(ctx, `SELECT pg_sleep(10)`)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
	}
	if err == nil || !isLost(err) {
		t.Errorf("connection cut by the network mid-statement: %v does not count as a lost connection", err)
	}
	if _, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/test?connect_timeout=5"); err == nil || !isLost(err) {
		t.Errorf("refused connect: %v does not count as a lost connection", err)
	}
}
