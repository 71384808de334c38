package auth

import "time"

// Throttle limits guessing: after Free consecutive failures each further
// failure doubles the wait, from Base up to Max; at Limit consecutive
// failures the key is locked until Reset (NIST SP 800-63B §5.2.2 allows at
// most 100). A success resets the count.
type Throttle struct {
	Free  int
	Base  time.Duration
	Max   time.Duration
	Limit int
	// Reset forgets failures older than this.
	Reset time.Duration
}

// Throttles used by login and second-factor checks.
var (
	// AccountThrottle guards one account's password or code.
	AccountThrottle = Throttle{Free: 5, Base: 30 * time.Second, Max: time.Hour, Limit: 100, Reset: 24 * time.Hour}
	// AddressThrottle guards against one client address trying many accounts.
	AddressThrottle = Throttle{Free: 20, Base: time.Second, Max: 15 * time.Minute, Limit: 1000, Reset: time.Hour}
)

// Wait returns how long to lock after the given number of consecutive
// failures.
func (t Throttle) Wait(failures int) time.Duration {
	if failures >= t.Limit {
		return t.Reset
	}
	if failures < t.Free {
		return 0
	}
	d := t.Base
	for i := t.Free; i < failures && d < t.Max; i++ {
		d *= 2
	}
	return min(d, t.Max)
}

// Lock is a throttle key's state.
type Lock struct {
	Failures int
	Until    time.Time
}

// RetryAfter returns the whole seconds left at now, or 0 when not locked.
func (l Lock) RetryAfter(now time.Time) int {
	if !now.Before(l.Until) {
		return 0
	}
	return int((l.Until.Sub(now) + time.Second - 1) / time.Second)
}
