package web

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus instruments.
type Metrics struct {
	Registry *prometheus.Registry
	// LoginStep times each login step (password, second_factor…) by outcome.
	LoginStep *prometheus.HistogramVec
	// Logins counts login attempts by final outcome.
	Logins *prometheus.CounterVec
	// Requests times HTTP requests by route pattern and status class.
	Requests *prometheus.HistogramVec
}

// NewMetrics registers ordergate's instruments in a new registry, with the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		LoginStep: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ordergate_login_step_seconds",
			Help: "Server time of each login step.",
			// Fine buckets below 10 ms: the second factor should cost a
			// millisecond or less; the password step is argon2id-bound.
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"step", "outcome"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordergate_logins_total",
			Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ordergate_http_request_seconds",
			Help:    "HTTP request time by route and status class.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
	}
	r.MustRegister(m.LoginStep, m.Logins, m.Requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
