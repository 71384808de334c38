package web_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkForwardAuthConcurrency16 measures /auth/verify answers per
// second from 16 concurrent clients with an AAL2 session on a two-factor
// rule (session lookup in SQLite, rule match, headers):
//
//	go test -run '^$' -bench ForwardAuth -benchtime 20000x ./internal/web/
func BenchmarkForwardAuthConcurrency16(b *testing.B) {
	e := newForwardEnv(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest("GET", e.URL+"/auth/verify", nil)
				req.Header.Set("X-Original-URL", "https://legacy.example.com/admin/users")
				req.Header.Set("Cookie", "ordergate_session="+e.admin2)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d verifications failed", n, b.N)
	}
}
