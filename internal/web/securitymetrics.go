package web

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// riskMetrics are the counters of risk-based authentication and forward
// auth, registered on a Metrics registry the first time they are used.
type riskMetrics struct {
	events  *prometheus.CounterVec
	forward *prometheus.CounterVec
}

var riskMetricsByRegistry sync.Map // *prometheus.Registry → *riskMetrics

func (m *Metrics) risk() *riskMetrics {
	if v, ok := riskMetricsByRegistry.Load(m.Registry); ok {
		return v.(*riskMetrics)
	}
	rm := &riskMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordergate_security_events_total",
			Help: "Security events by kind (auth.SecurityKinds: risk_denied, login_throttled, code_replayed, key_cloned, ...).",
		}, []string{"kind"}),
		forward: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordergate_forward_auth_requests_total",
			Help: "Forward-auth verifications by result and reason.",
		}, []string{"result", "reason"}),
	}
	if v, loaded := riskMetricsByRegistry.LoadOrStore(m.Registry, rm); loaded {
		return v.(*riskMetrics)
	}
	m.Registry.MustRegister(rm.events, rm.forward)
	return rm
}

// SecurityEvent counts one security event of kind; it implements
// auth.SecuritySink.
func (m *Metrics) SecurityEvent(kind string) {
	m.risk().events.WithLabelValues(kind).Inc()
}

func (m *Metrics) forwardAuth(ok bool, reason string) {
	result := "denied"
	if ok {
		result = "allowed"
	}
	m.risk().forward.WithLabelValues(result, reason).Inc()
}
