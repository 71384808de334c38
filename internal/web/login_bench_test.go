package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/postgres"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/testenv"
	"github.com/ordergate/ordergate/internal/web"
)

// benchUsers is how many users the login benchmark signs in, in turn.
const benchUsers = 32

// benchClients is the number of concurrent clients.
const benchClients = 8

// BenchmarkLoginConcurrency8 measures POST /api/v1/login with correct
// passwords from 8 concurrent clients against a real server and database.
// It reports logins/s and the p50 and p99 latency in milliseconds. The
// password step is argon2id-bound (see password.BenchmarkVerify).
//
//	go test -run '^$' -bench Login -benchtime 200x ./internal/web/
func BenchmarkLoginConcurrency8(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchmarkLogin(b, MustOpenDB(b, ordergate.SystemClock{}))
	})
	b.Run("postgres", func(b *testing.B) {
		benchmarkLogin(b, mustOpenPostgres(b))
	})
}

// mustOpenPostgres returns a migrated database in a fresh schema, or skips.
func mustOpenPostgres(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	dsn := testenv.PostgresSchema(tb)
	chain, err := audit.NewChain(chainKey)
	if err != nil {
		tb.Fatal(err)
	}
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

func benchmarkLogin(b *testing.B, db *sqlstore.DB) {
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, MustOpenKeyring(b), ordergate.SystemClock{}, log)
	bodies := make([]string, benchUsers)
	for i := range bodies {
		name := fmt.Sprintf("bench%02d", i)
		MustCreateUser(b, svc, name, alicePassword)
		bodies[i] = loginBody(name, alicePassword)
	}
	hs := httptest.NewServer(web.NewServer(svc, db, web.NewMetrics(), log).Handler())
	defer hs.Close()
	tr := hs.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchClients
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	work := make(chan int)
	latencies := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	for c := range benchClients {
		wg.Go(func() {
			for i := range work {
				start := time.Now()
				resp, err := client.Post(hs.URL+"/api/v1/login", jsonType, strings.NewReader(bodies[i%benchUsers]))
				if err != nil {
					b.Error(err)
					continue
				}
				resp.Body.Close()
				latencies[c] = append(latencies[c], time.Since(start))
				if resp.StatusCode != http.StatusOK {
					b.Errorf("POST /api/v1/login = %d, want 200", resp.StatusCode)
				}
			}
		})
	}

	start := time.Now()
	i := 0
	for b.Loop() {
		work <- i
		i++
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)

	reportLatencies(b, "", slices.Concat(latencies...))
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "logins/s")
}

// reportLatencies reports the p50 and p99 of lat in milliseconds, with
// metric names starting with prefix.
func reportLatencies(b *testing.B, prefix string, lat []time.Duration) {
	all := slices.Sorted(slices.Values(lat))
	if len(all) == 0 {
		return
	}
	ms := func(q float64) float64 {
		k := int(q*float64(len(all))+0.999999) - 1
		return float64(all[max(k, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), prefix+"p50-ms")
	b.ReportMetric(ms(0.99), prefix+"p99-ms")
}
