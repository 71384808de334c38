package password

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkWakeupUnderSignIns measures what a burst of sign-ins costs
// every other request: while twice Workers goroutines verify passwords
// without pause, a goroutine that sleeps 1 ms records how late it runs
// again. "shared" keeps GOMAXPROCS as it is, so derivations hold every P;
// "reserved" calls ReserveProcs first, as ordergate serve does.
//
//	go test -run '^$' -bench WakeupUnderSignIns -benchtime 2000x ./internal/auth/password/
func BenchmarkWakeupUnderSignIns(b *testing.B) {
	phc, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 * Workers() {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						Verify("correct horse battery staple", phc)
					}
				}
			})
		}
		late := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			time.Sleep(time.Millisecond)
			late = append(late, time.Since(start)-time.Millisecond)
		}
		close(stop)
		wg.Wait()
		slices.Sort(late)
		q := func(f float64) float64 { return float64(late[int(f*float64(len(late)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(q(0.5), "late-p50-ms")
		b.ReportMetric(q(0.99), "late-p99-ms")
	}
	procs := runtime.GOMAXPROCS(0)
	b.Run("shared", run)
	ReserveProcs()
	defer runtime.GOMAXPROCS(procs)
	b.Run("reserved", run)
}
