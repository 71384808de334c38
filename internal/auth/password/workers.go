package password

import (
	"runtime"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Derivations take turns. argon2id takes tens of milliseconds of a core
// and Memory KiB per call: run freely on the callers' goroutines, a burst
// of sign-ins holds every P of the Go scheduler, and each cheap request (a
// second factor, a webhook) waits behind them for the scheduler's 10 ms
// preemption, while memory grows with the number of sign-ins at once. So
// at most Workers derivations run at a time, and ReserveProcs, called at
// start, keeps that many Ps beyond them for everything else.
var workers = struct {
	n     int
	slots chan struct{}
	base  sync.Once
	procs int
}{n: runtime.GOMAXPROCS(0), slots: make(chan struct{}, runtime.GOMAXPROCS(0))}

// Workers is how many derivations may run at once: one per CPU the
// process may use, as the runtime counts them at start (GOMAXPROCS, which
// honours a container's CPU limit, where runtime.NumCPU does not).
func Workers() int { return workers.n }

// ReserveProcs raises GOMAXPROCS by Workers, so that Go code other than
// password derivations always has a P even while every derivation runs,
// and the kernel shares the cores among them. It returns the new value;
// calling it again sets the same value. ordergate serve calls it at start.
func ReserveProcs() int {
	workers.base.Do(func() { workers.procs = runtime.GOMAXPROCS(0) + workers.n })
	runtime.GOMAXPROCS(workers.procs)
	return workers.procs
}

// idKey is argon2.IDKey once a derivation slot is free.
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	workers.slots <- struct{}{}
	defer func() { <-workers.slots }()
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}
