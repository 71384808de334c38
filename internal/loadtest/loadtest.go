// Package loadtest drives a running ordergate over HTTP the way its users
// and channels do (logins with a second factor, signed Shopify webhooks,
// order approvals) and reports per step how many requests it made, which
// failed and how long they took.
//
// The load runs in its own process: the server's numbers are not flattered
// by sharing its scheduler. Users and sources are provisioned through a
// Provisioner (the CLI's direct access to the database), TOTP factors are
// enrolled through the API, and codes are computed here.
package loadtest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario names.
const (
	ScenarioLoginTOTP     = "login-totp"
	ScenarioLoginWebAuthn = "login-webauthn"
	ScenarioIntakeShopify = "intake-shopify"
	ScenarioApprove       = "approve"
	ScenarioMixed         = "mixed"
)

// Scenarios lists the scenario names Run knows.
var Scenarios = []string{ScenarioLoginTOTP, ScenarioLoginWebAuthn, ScenarioIntakeShopify, ScenarioApprove, ScenarioMixed}

// Step names in a Report.
const (
	StepPassword     = "password"
	StepSecondFactor = "second_factor"
	StepIntake       = "intake"
	StepSubmit       = "submit"
	StepApproval     = "approval"
)

// ErrConfig marks a configuration Run refuses before sending anything:
// an unknown scenario, a number that is zero or negative, a URL that is
// not absolute or does not answer.
var ErrConfig = errors.New("loadtest: bad configuration")

//go:embed shopify-order.json
var shopifyOrder []byte

// Provisioner creates what a scenario needs before the load starts.
type Provisioner interface {
	// AddUser creates an enabled user with password and roles.
	AddUser(ctx context.Context, username, password string, roles []string) error
	// AddShopifySource registers a Shopify source named name and returns
	// its ID and webhook secret.
	AddShopifySource(ctx context.Context, name string) (id, secret string, err error)
}

// Config is one load run.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080. With
	// several URLs the requests go to them round-robin (several ordergate
	// processes behind an imaginary load balancer).
	URLs     []string
	Scenario string
	// Users is how many users to provision for login scenarios (approve
	// uses up to Users clerk and approver pairs).
	Users int
	// Concurrency is the number of clients sending at once.
	Concurrency int
	// Duration and Requests bound the run: it stops at whichever comes
	// first. Requests counts iterations (a login, an order delivered, an
	// order approved), not HTTP requests.
	Duration time.Duration
	Requests int
	// Progress, when not nil, receives a line of live progress twice a
	// second (meant for a terminal: it ends with a carriage return).
	Progress io.Writer
	// Provisioner creates users and sources.
	Provisioner Provisioner
	// Client sends the requests; nil means a client with a transport
	// sized for Concurrency.
	Client *http.Client
	// Now is the clock used for TOTP codes; nil means time.Now.
	Now func() time.Time
}

// Check returns an error wrapping ErrConfig when cfg cannot run, without
// sending anything: an unknown scenario, a number that is zero or
// negative, a URL that is not absolute. The Provisioner may be nil.
func Check(cfg Config) error { return cfg.check(false) }

func (c *Config) check(needProvisioner bool) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	if !slices.Contains(Scenarios, c.Scenario) {
		return bad("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	switch {
	case len(c.URLs) == 0:
		return bad("--url is required")
	case c.Users <= 0:
		return bad("--users must be positive, got %d", c.Users)
	case c.Concurrency <= 0:
		return bad("--concurrency must be positive, got %d", c.Concurrency)
	case c.Duration <= 0:
		return bad("--duration must be positive, got %s", c.Duration)
	case c.Requests <= 0:
		return bad("--requests must be positive, got %d", c.Requests)
	case needProvisioner && c.Provisioner == nil:
		return bad("no provisioner")
	}
	for i, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return bad("--url %q is not an absolute http(s) URL", u)
		}
		c.URLs[i] = strings.TrimRight(u, "/")
	}
	return nil
}

// runner is the state of one run shared by its clients.
type runner struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
	rec    *recorder
	next   atomic.Uint64 // round-robin over URLs
	runID  string
}

// base returns the URL of the server the next request goes to.
func (r *runner) base() string {
	n := r.next.Add(1)
	return r.cfg.URLs[n%uint64(len(r.cfg.URLs))]
}

// Run provisions what the scenario needs, sends the load, and returns the
// report. It stops when Requests iterations are done, Duration has passed
// or ctx is cancelled, whichever is first; a cancelled run still reports
// what it did. It returns an error wrapping ErrConfig for a configuration
// it refuses, and another error when provisioning fails.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(true); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, client: cfg.Client, now: cfg.Now, rec: newRecorder(), runID: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)}
	if r.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Concurrency
		tr.MaxIdleConns = cfg.Concurrency * len(cfg.URLs)
		r.client = &http.Client{Transport: tr, Timeout: time.Minute}
		defer tr.CloseIdleConnections()
	}
	if r.now == nil {
		r.now = time.Now
	}
	for _, u := range cfg.URLs {
		if err := r.reachable(ctx, u); err != nil {
			return nil, err
		}
	}
	var iterate func(ctx context.Context, client, i int) error
	switch cfg.Scenario {
	case ScenarioLoginTOTP:
		lg, err := r.setupLogins(ctx, cfg.Users)
		if err != nil {
			return nil, err
		}
		iterate = func(ctx context.Context, _, _ int) error { return lg.login(ctx) }
	case ScenarioLoginWebAuthn:
		kl, err := r.setupKeyLogins(ctx, cfg.Users)
		if err != nil {
			return nil, err
		}
		iterate = func(ctx context.Context, _, _ int) error { return kl.login(ctx) }
	case ScenarioIntakeShopify:
		in, err := r.setupIntake(ctx)
		if err != nil {
			return nil, err
		}
		iterate = func(ctx context.Context, _, i int) error { _, err := in.deliver(ctx, i); return err }
	case ScenarioApprove:
		ap, err := r.setupApprovals(ctx)
		if err != nil {
			return nil, err
		}
		iterate = ap.approve
	case ScenarioMixed:
		lg, err := r.setupLogins(ctx, cfg.Users)
		if err != nil {
			return nil, err
		}
		ap, err := r.setupApprovals(ctx)
		if err != nil {
			return nil, err
		}
		iterate = func(ctx context.Context, client, i int) error {
			switch i % 3 {
			case 0:
				return lg.login(ctx)
			case 1:
				_, err := ap.intake.deliver(ctx, i)
				return err
			default:
				return ap.approve(ctx, client, i)
			}
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var issued atomic.Int64
	start := time.Now()
	stopProgress := r.progress(runCtx, start)
	var wg sync.WaitGroup
	for c := range cfg.Concurrency {
		wg.Go(func() {
			for runCtx.Err() == nil {
				i := issued.Add(1) - 1
				if i >= int64(cfg.Requests) {
					return
				}
				if err := iterate(runCtx, c, int(i)); err != nil && runCtx.Err() == nil {
					// Setup-like failures inside an iteration (no session
					// to approve with) are already recorded; keep going.
					continue
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	return r.rec.report(cfg, elapsed), nil
}

// reachable checks that base answers /readyz.
func (r *runner) reachable(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("%w: --url %q: %v", ErrConfig, base, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the method and URL, said once below
		}
		return fmt.Errorf("%w: %s does not answer: %v", ErrConfig, base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s/readyz answered %s, want 200", ErrConfig, base, resp.Status)
	}
	return nil
}

// progress writes a progress line twice a second until the returned
// function is called.
func (r *runner) progress(ctx context.Context, start time.Time) func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(r.cfg.Progress, "\r\033[K")
				return
			case <-t.C:
				n, errs := r.rec.totals()
				secs := time.Since(start).Seconds()
				fmt.Fprintf(r.cfg.Progress, "\r\033[K%s  %d requests  %.0f/s  %d errors  %.0fs/%.0fs",
					r.cfg.Scenario, n, float64(n)/secs, errs, secs, r.cfg.Duration.Seconds())
			}
		}
	}()
	return func() { close(done); <-stopped }
}
