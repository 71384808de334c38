package password

import (
	"runtime"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Derivations run on their own threads. argon2id takes tens of
// milliseconds of a core and Memory KiB per call: run on the callers'
// goroutines, a burst of sign-ins holds every P of the Go scheduler, and
// each cheap request (a second factor, a webhook) waits behind them for
// the scheduler's 10 ms preemption, while memory grows with the number of
// sign-ins at once. So at most Workers derivations run at a time, each on
// a worker goroutine locked to an OS thread of lower scheduling priority
// (nice 10 on Linux): when both want a core, the kernel runs the rest of
// the process first. Call ReserveProcs at start so that the workers never
// hold all of GOMAXPROCS.
var workers = struct {
	once  sync.Once
	n     int
	jobs  chan func()
	base  sync.Once
	procs int
}{n: runtime.NumCPU()}

// Workers is how many derivations may run at once: one per CPU.
func Workers() int { return workers.n }

// ReserveProcs raises GOMAXPROCS by Workers, so that Go code other than
// password derivations always has a P even while every worker computes,
// and the kernel's priorities decide who gets a core. It returns the new
// value; calling it again sets the same value. ordergate serve calls it
// at start.
func ReserveProcs() int {
	workers.base.Do(func() { workers.procs = runtime.GOMAXPROCS(0) + workers.n })
	runtime.GOMAXPROCS(workers.procs)
	return workers.procs
}

// idKey is argon2.IDKey run on a derivation worker.
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	workers.once.Do(func() {
		workers.jobs = make(chan func())
		for range workers.n {
			go work(workers.jobs)
		}
	})
	done := make(chan []byte, 1)
	workers.jobs <- func() { done <- argon2.IDKey(password, salt, time, memory, threads, keyLen) }
	return <-done
}

// work runs jobs forever on a thread of its own with lowered priority.
// The goroutine never unlocks the thread, so no other goroutine ever runs
// at that priority.
func work(jobs <-chan func()) {
	runtime.LockOSThread()
	lowerPriority()
	for job := range jobs {
		job()
	}
}
