package web_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/postgres"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/testenv"
)

// BenchmarkIntakeHTTP measures signed Shopify deliveries over HTTP at
// concurrency 8, each a distinct order (the real fixture with another
// id), persisted with raw payload and audit event: orders/s per engine.
func BenchmarkIntakeHTTP(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B, clock ordergate.Clock) *sqlstore.DB
	}{
		{"sqlite", func(b *testing.B, clock ordergate.Clock) *sqlstore.DB { return openOrderDB(b, clock) }},
		{"postgres", func(b *testing.B, clock ordergate.Clock) *sqlstore.DB {
			chain, _ := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
			db, err := postgres.Open(context.Background(), testenv.PostgresSchema(b), chain, clock)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			return db
		}},
	}
	body := fixture(b, "shopify/testdata/python-order.json")
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			clock := &orderClock{now: time.Now().UTC()}
			e := newOrderEnv(b, eng.open(b, clock), clock)
			const workers = 8
			var next atomic.Int64
			var failed atomic.Int64
			b.ResetTimer()
			cpu0, cpuOK := processCPU()
			start := time.Now()
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						r := e.deliverShopify(b, withShopifyID(body, int(i)), shopifySecret, "")
						if r.Status != http.StatusCreated {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d deliveries were not answered 201", n, b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "orders/s")
			// CPU per order (client and server together) tells versions
			// apart on a machine other work shares, where orders/s does not.
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/order")
			}
		})
	}
}

// processCPU returns the CPU time (user and system) this process used;
// false where getrusage fails.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
