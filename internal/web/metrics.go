package web

import (
	"context"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
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

// adoptionCollector reads second-factor adoption from the database on each
// scrape, so every process reports the same, current figures.
type adoptionCollector struct {
	adoption func(ctx context.Context) (*auth.Adoption, error)
	enrolled *prometheus.Desc
	users    *prometheus.Desc
}

// CollectAdoption registers the gauges ordergate_mfa_enrolled_users and
// ordergate_users, labelled by role, computed by adoption at scrape time.
func (m *Metrics) CollectAdoption(adoption func(ctx context.Context) (*auth.Adoption, error)) {
	m.Registry.MustRegister(&adoptionCollector{
		adoption: adoption,
		enrolled: prometheus.NewDesc("ordergate_mfa_enrolled_users", "Enabled users with a confirmed second factor.", []string{"role"}, nil),
		users:    prometheus.NewDesc("ordergate_users", "Enabled users.", []string{"role"}, nil),
	})
}

// Describe implements prometheus.Collector.
func (c *adoptionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.enrolled
	ch <- c.users
}

// Collect implements prometheus.Collector.
func (c *adoptionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := c.adoption(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.users, err)
		return
	}
	for _, r := range append([]auth.RoleAdoption{rep.Overall}, rep.Roles...) {
		role := r.Role
		if role == "*" {
			role = "all"
		}
		ch <- prometheus.MustNewConstMetric(c.enrolled, prometheus.GaugeValue, float64(r.Enrolled), role)
		ch <- prometheus.MustNewConstMetric(c.users, prometheus.GaugeValue, float64(r.Total), role)
	}
}
