package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// stepOrder is the order steps appear in a report.
var stepOrder = []string{StepPassword, StepSecondFactor, StepIntake, StepSubmit, StepApproval}

// recorder collects the latency and outcome of every request.
type recorder struct {
	mu    sync.Mutex
	steps map[string]*stepSamples
	n     int
	errs  int
}

type stepSamples struct {
	ok     []time.Duration
	all    []time.Duration
	errors map[string]int
}

func newRecorder() *recorder { return &recorder{steps: map[string]*stepSamples{}} }

// record notes one request of step that took d; failure is "" for a
// success, else what went wrong (e.g. "401 unauthorized").
func (rec *recorder) record(step string, d time.Duration, failure string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.steps[step]
	if s == nil {
		s = &stepSamples{errors: map[string]int{}}
		rec.steps[step] = s
	}
	s.all = append(s.all, d)
	rec.n++
	if failure != "" {
		s.errors[failure]++
		rec.errs++
		return
	}
	s.ok = append(s.ok, d)
}

// totals returns the requests and errors recorded so far.
func (rec *recorder) totals() (n, errs int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.n, rec.errs
}

// Report is the outcome of a run.
type Report struct {
	Scenario    string        `json:"scenario"`
	URLs        []string      `json:"urls"`
	Concurrency int           `json:"concurrency"`
	Users       int           `json:"users"`
	Elapsed     time.Duration `json:"-"`
	ElapsedSecs float64       `json:"elapsed_seconds"`
	Requests    int           `json:"requests"`
	Errors      int           `json:"errors"`
	Steps       []StepReport  `json:"steps"`
}

// StepReport sums up the requests of one step. Latencies are those of
// all requests, failed ones included, in milliseconds as seen by the
// client.
type StepReport struct {
	Step       string         `json:"step"`
	Count      int            `json:"count"`
	Errors     int            `json:"errors"`
	ErrorCodes map[string]int `json:"errors_by_code,omitempty"`
	P50ms      float64        `json:"p50_ms"`
	P95ms      float64        `json:"p95_ms"`
	P99ms      float64        `json:"p99_ms"`
	Maxms      float64        `json:"max_ms"`
	// PerSecond is the step's successful requests per second of the run.
	PerSecond float64 `json:"per_second"`
}

func (rec *recorder) report(cfg Config, elapsed time.Duration) *Report {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rep := &Report{Scenario: cfg.Scenario, URLs: cfg.URLs, Concurrency: cfg.Concurrency, Users: cfg.Users,
		Elapsed: elapsed, ElapsedSecs: elapsed.Seconds(), Requests: rec.n, Errors: rec.errs, Steps: []StepReport{}}
	names := slices.Collect(maps.Keys(rec.steps))
	slices.SortFunc(names, func(a, b string) int {
		return slices.Index(stepOrder, a) - slices.Index(stepOrder, b)
	})
	for _, name := range names {
		s := rec.steps[name]
		lat := slices.Clone(s.all)
		slices.Sort(lat)
		sr := StepReport{Step: name, Count: len(s.all), Errors: len(s.all) - len(s.ok),
			P50ms: ms(Percentile(lat, 50)), P95ms: ms(Percentile(lat, 95)), P99ms: ms(Percentile(lat, 99)),
			PerSecond: float64(len(s.ok)) / elapsed.Seconds()}
		if len(lat) > 0 {
			sr.Maxms = ms(lat[len(lat)-1])
		}
		if len(s.errors) > 0 {
			sr.ErrorCodes = maps.Clone(s.errors)
		}
		rep.Steps = append(rep.Steps, sr)
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Percentile returns the p-th percentile (nearest rank) of sorted, or 0
// when it is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// WriteText writes the report as a table for people.
func (rep *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "scenario %s against %s: %d requests in %.1fs, %d errors, concurrency %d, %d users\n\n",
		rep.Scenario, strings.Join(rep.URLs, ", "), rep.Requests, rep.Elapsed.Seconds(), rep.Errors, rep.Concurrency, rep.Users)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tcount\terrors\tp50 ms\tp95 ms\tp99 ms\tmax ms\tok/s\t")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t\n", s.Step, s.Count, s.Errors, s.P50ms, s.P95ms, s.P99ms, s.Maxms, s.PerSecond)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Steps {
		codes := slices.Sorted(maps.Keys(s.ErrorCodes))
		for _, c := range codes {
			fmt.Fprintf(w, "  %s: %d × %s\n", s.Step, s.ErrorCodes[c], c)
		}
	}
	return nil
}
