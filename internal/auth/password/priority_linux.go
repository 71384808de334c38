package password

import "golang.org/x/sys/unix"

// lowerPriority raises the calling thread's nice value by 10 (to at most
// 19). On Linux the nice value belongs to each thread, not to the process.
func lowerPriority() {
	tid := unix.Gettid()
	// getpriority(2) returns 20 - nice.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	_ = unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-p+10, 19))
}
