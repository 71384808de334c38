package auth_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// BenchmarkHardwareTokenCheck measures the server time of checking a
// hardware token's code as POST /api/v1/step-up does it, without HTTP:
// the account throttle, the user's factors from SQLite, opening the
// sealed seed, the HOTP look-ahead window or the TOTP ±1 step, the
// conditional UPDATE that makes the counter or step single-use, the
// throttle reset, and the session update with its audit event. Each
// iteration uses the token's next code. It reports p50 and p99:
//
//	go test -run '^$' -bench HardwareTokenCheck -benchtime 2000x ./internal/auth/
func BenchmarkHardwareTokenCheck(b *testing.B) {
	b.Run("hotp", func(b *testing.B) {
		e := newTokenEnv(b, "bob")
		e.importFile(b, "rfc6030-figure6.pskcxml", figure6PSK)
		if _, err := e.tokens.Assign(context.Background(), ordergate.SystemActor, "987654321", "bob", nil); err != nil {
			b.Fatal(err)
		}
		sess, u := benchSession(b, e, "bob", hotp8(0))
		counter := uint64(1)
		benchCheck(b, e, sess, u, func() string {
			c := hotp8(counter)
			counter++
			return c
		})
	})
	b.Run("totp", func(b *testing.B) {
		e := newTokenEnv(b, "carol")
		e.importFile(b, "totp-sha1.pskcxml", nil)
		if _, err := e.tokens.Assign(context.Background(), ordergate.SystemActor, "TOTP-0001", "carol", nil); err != nil {
			b.Fatal(err)
		}
		p := totp.Params{Algorithm: totp.SHA1, Digits: 8, Period: 30 * time.Second}
		sess, u := benchSession(b, e, "carol", totp.Code(rfcSeed, e.clock.Now(), p))
		benchCheck(b, e, sess, u, func() string {
			e.clock.Add(30 * time.Second)
			return totp.Code(rfcSeed, e.clock.Now(), p)
		})
	})
}

func benchSession(b *testing.B, e *tokenEnv, username, code string) (*auth.Session, *auth.User) {
	b.Helper()
	sess, err := e.signIn(b, username, code)
	if err != nil {
		b.Fatal(err)
	}
	u, err := e.db.UserByUsername(context.Background(), username)
	if err != nil {
		b.Fatal(err)
	}
	return sess, u
}

// benchCheck steps up sess b.N times with codes from next, timing each.
func benchCheck(b *testing.B, e *tokenEnv, sess *auth.Session, u *auth.User, next func() string) {
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		code := next()
		b.StartTimer()
		start := time.Now()
		res, err := e.svc.StepUp(ctx, sess, u, auth.MethodTOTP, code, "order.approve", "")
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatalf("StepUp %d: %v", i, err)
		}
		sess = res.Session
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
}
