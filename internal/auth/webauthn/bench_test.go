package webauthn_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth/webauthn"
	"github.com/ordergate/ordergate/internal/auth/webauthn/webauthntest"
)

// BenchmarkFinishLogin measures the server's verification of one ES256
// assertion (parse, client data, authenticator data, signature), and
// reports p50 and p99.
func BenchmarkFinishLogin(b *testing.B) {
	rp, _ := webauthn.New(origin, "bench")
	a := &webauthntest.Authenticator{Origin: origin, UserVerified: true}
	u := webauthn.User{Handle: []byte("usr_bench"), Name: "bench"}
	c, _ := rp.BeginRegistration(u, webauthn.Requirements{})
	resp, _ := a.Create(c.Options)
	reg, err := rp.FinishRegistration(u, c.Session, resp, webauthn.Requirements{})
	if err != nil {
		b.Fatal(err)
	}
	u.Credentials = []webauthn.Stored{{FactorID: "fac_1", Params: reg.Params, SignCount: reg.SignCount}}
	type input struct{ state, body []byte }
	inputs := make([]input, b.N)
	for i := range inputs {
		c, _, _ := rp.BeginLogin(u, webauthn.Requirements{}, nil)
		body, _ := a.Get(c.Options)
		inputs[i] = input{c.Session, body}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := rp.FinishLogin(u, inputs[i].state, inputs[i].body, webauthn.Requirements{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
