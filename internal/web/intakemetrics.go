package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/ordergate/ordergate/internal/intake"
	"github.com/prometheus/client_golang/prometheus"
)

// newIntakeHistogram is ordergate_intake_seconds{channel,outcome}: the
// server time of each intake request, from reading its body to the
// answer, so that the intake share of a deployment's latency can be read
// in production like the login steps'.
func newIntakeHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ordergate_intake_seconds",
		Help: "Server time of each intake request, by channel and outcome.",
		// One order should take about a millisecond; a CSV file of many
		// orders may take minutes.
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60, 300},
	}, []string{"channel", "outcome"})
}

// intakeOutcome names an intake answer by its status: created (201),
// duplicate (200), partial (207), rejected (422), refused (401), or
// error for anything else.
func intakeOutcome(status int) string {
	switch status {
	case http.StatusCreated:
		return "created"
	case http.StatusOK:
		return "duplicate"
	case http.StatusMultiStatus:
		return "partial"
	case http.StatusUnprocessableEntity:
		return "rejected"
	case http.StatusUnauthorized:
		return "refused"
	}
	return "error"
}

// observeIntake records one intake request. Unknown channels are counted
// under "unknown" so that a caller cannot create label values at will.
func (a *orderAPI) observeIntake(channel string, status int, d time.Duration) {
	if !slices.Contains(intake.Channels, channel) {
		channel = "unknown"
	}
	a.seconds.WithLabelValues(channel, intakeOutcome(status)).Observe(d.Seconds())
}
