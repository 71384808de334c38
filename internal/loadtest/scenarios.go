package loadtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ordergate/ordergate/internal/auth/totp"
)

// errFailed is returned by an iteration whose request failed; the failure
// is already recorded.
var errFailed = errors.New("request failed")

// answer is a response as the scenarios need it.
type answer struct {
	status int
	body   map[string]any
}

// str returns the string field key of the JSON answer.
func (a answer) str(key string) string { s, _ := a.body[key].(string); return s }

// send makes one request and records it under step (when step is not
// ""). The answer is a failure unless its status is one of want.
func (r *runner) send(ctx context.Context, step, method, url, token string, body []byte, header http.Header, want ...int) (answer, error) {
	a, _, err := r.sendAt(ctx, step, time.Now(), method, url, token, body, header, want...)
	return a, err
}

// sendAt is send recording the time since start, so that a step of
// several requests is one sample; it also returns the raw body.
func (r *runner) sendAt(ctx context.Context, step string, start time.Time, method, url, token string, body []byte, header http.Header, want ...int) (answer, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, nil, ctx.Err() // the run ended: not the server's fault
		}
		if step != "" {
			r.rec.record(step, time.Since(start), "transport error")
		}
		return answer{}, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	a := answer{status: resp.StatusCode}
	json.Unmarshal(raw, &a.body)
	failure := ""
	if err != nil {
		failure = "transport error"
	} else if !contains(want, resp.StatusCode) {
		failure = strconv.Itoa(resp.StatusCode)
		if code := a.str("error"); code != "" {
			failure += " " + code
		}
	}
	if step != "" && (failure != "" || !partial(ctx)) {
		r.rec.record(step, d, failure)
	}
	if failure != "" {
		return a, raw, fmt.Errorf("%s %s answered %s: %s: %w", method, url, failure, a.str("message"), errFailed)
	}
	return a, raw, nil
}

// partialKey marks a context whose request is not the last of its step:
// only its failure is recorded.
type partialKey struct{}

func partial(ctx context.Context) bool { return ctx.Value(partialKey{}) != nil }

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// totpUser is a provisioned user with a TOTP factor. lastStep is the last
// time step used, so that no code is sent twice (the server refuses a
// step at or below the last one accepted).
type totpUser struct {
	name, password string
	seed           []byte
	lastStep       int64
	busy           bool
}

// logins runs the login scenario over a pool of users.
type logins struct {
	r     *runner
	mu    sync.Mutex
	wake  *sync.Cond
	users []*totpUser
}

// newPassword returns a random password for a provisioned user.
func newPassword() string { return "load-" + rand.Text() }

// setupLogins provisions n users with TOTP, in parallel.
func (r *runner) setupLogins(ctx context.Context, n int) (*logins, error) {
	users, err := provisionAll(n, func(i int) (*totpUser, error) {
		u, _, err := r.provisionTOTP(ctx, fmt.Sprintf("load-%s-%d", r.runID, i), []string{"clerk"})
		return u, err
	})
	if err != nil {
		return nil, err
	}
	lg := &logins{r: r, users: users}
	lg.wake = sync.NewCond(&lg.mu)
	return lg, nil
}

// provisionAll makes n users with provision, four at a time.
func provisionAll[U any](n int, provision func(i int) (U, error)) ([]U, error) {
	users := make([]U, n)
	errs := make([]error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(n, 4) {
		wg.Go(func() {
			for i := range work {
				users[i], errs[i] = provision(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("provision users: %w", err)
	}
	return users, nil
}

// provisionTOTP creates a user, enrolls a TOTP factor through the API and
// returns it with an authenticated session token.
func (r *runner) provisionTOTP(ctx context.Context, name string, roles []string) (*totpUser, string, error) {
	u := &totpUser{name: name, password: newPassword()}
	if err := r.cfg.Provisioner.AddUser(ctx, u.name, u.password, roles); err != nil {
		return nil, "", err
	}
	base := r.base()
	a, err := r.send(ctx, "", "POST", base+"/api/v1/login", "", jsonBody(map[string]string{"username": u.name, "password": u.password}), nil, 200)
	if err != nil {
		return nil, "", err
	}
	token := a.str("session_token")
	enr, err := r.send(ctx, "", "POST", base+"/api/v1/me/factors/totp", token, nil, nil, 201)
	if err != nil {
		return nil, "", err
	}
	if u.seed, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.str("secret")); err != nil {
		return nil, "", fmt.Errorf("enroll %s: the secret is not base32: %w", name, err)
	}
	now := r.now()
	u.lastStep = totp.Step(now, totp.DefaultParams)
	conf, err := r.send(ctx, "", "POST", base+"/api/v1/me/factors/totp/"+enr.str("id")+"/confirm", token,
		jsonBody(map[string]string{"code": totp.Code(u.seed, now, totp.DefaultParams)}), nil, 200)
	if err != nil {
		return nil, "", err
	}
	if t := conf.str("session_token"); t != "" {
		token = t
	}
	return u, token, nil
}

// usableStep returns the time step u may use now, or false: the lowest
// step above u.lastStep within the server's ±1 window, keeping clear of
// a step that would expire before the request arrives.
func usableStep(u *totpUser, now time.Time) (int64, bool) {
	cur := totp.Step(now, totp.DefaultParams)
	period := int64(totp.DefaultParams.Period / time.Second)
	low := cur - 1
	if now.Unix()%period >= period-3 {
		low = cur // the previous step leaves the window in under 3 s
	}
	s := max(u.lastStep+1, low)
	return s, s <= cur+1
}

// take returns an idle user with a usable step, waiting for one (at most
// until the next time step) when there is none.
func (lg *logins) take(ctx context.Context) (*totpUser, int64, error) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		now := lg.r.now()
		for _, u := range lg.users {
			if s, ok := usableStep(u, now); ok && !u.busy {
				u.busy, u.lastStep = true, s
				return u, s, nil
			}
		}
		// Every user has used all its steps, or is busy: wait for a
		// release or the next step, whichever is first.
		period := totp.DefaultParams.Period
		wait := period - time.Duration(now.UnixNano()%int64(period)) + 10*time.Millisecond
		t := time.AfterFunc(min(wait, 200*time.Millisecond), func() {
			lg.mu.Lock()
			lg.wake.Broadcast()
			lg.mu.Unlock()
		})
		lg.wake.Wait()
		t.Stop()
	}
}

func (lg *logins) release(u *totpUser) {
	lg.mu.Lock()
	u.busy = false
	lg.wake.Broadcast()
	lg.mu.Unlock()
}

// passwordStep signs name in with its password on the next process and
// returns the pending session's token; a login that does not ask for a
// second factor counts as a failed second-factor step.
func (r *runner) passwordStep(ctx context.Context, name, password string) (string, error) {
	a, err := r.send(ctx, StepPassword, "POST", r.base()+"/api/v1/login", "",
		jsonBody(map[string]string{"username": name, "password": password}), nil, 200)
	if err != nil {
		return "", err
	}
	if st := a.str("state"); st != "mfa_required" {
		r.rec.record(StepSecondFactor, 0, "state "+st)
		return "", errFailed
	}
	return a.str("session_token"), nil
}

// login runs the password step and the TOTP step of one login.
func (lg *logins) login(ctx context.Context) error {
	u, step, err := lg.take(ctx)
	if err != nil {
		return err
	}
	defer lg.release(u)
	r := lg.r
	token, err := r.passwordStep(ctx, u.name, u.password)
	if err != nil {
		return err
	}
	period := int64(totp.DefaultParams.Period / time.Second)
	code := totp.Code(u.seed, time.Unix(step*period, 0), totp.DefaultParams)
	// Several processes: the second factor goes to the next one.
	_, err = r.send(ctx, StepSecondFactor, "POST", r.base()+"/api/v1/login/mfa", token,
		jsonBody(map[string]string{"method": "totp", "code": code}), nil, 200)
	return err
}

// intake delivers signed Shopify webhooks to one source.
type intake struct {
	r              *runner
	sourceID       string
	secret         []byte
	base           int64
	bodyHead, tail []byte // the fixture around its order id
}

const fixtureID = `"id": 450789469,`

func (r *runner) setupIntake(ctx context.Context) (*intake, error) {
	id, secret, err := r.cfg.Provisioner.AddShopifySource(ctx, "load-"+r.runID)
	if err != nil {
		return nil, fmt.Errorf("provision a Shopify source: %w", err)
	}
	head, tail, ok := bytes.Cut(shopifyOrder, []byte(fixtureID))
	if !ok {
		return nil, errors.New("the Shopify fixture has no order id")
	}
	// Distinct ids per run: a second run against the same database
	// delivers new orders, not duplicates.
	return &intake{r: r, sourceID: id, secret: []byte(secret), base: time.Now().UnixNano() / 1000 % 1e12 * 1000,
		bodyHead: head, tail: tail}, nil
}

// deliver sends the fixture as order i and returns the new order's ID.
func (in *intake) deliver(ctx context.Context, i int) (string, error) {
	body := make([]byte, 0, len(in.bodyHead)+len(in.tail)+32)
	body = append(body, in.bodyHead...)
	body = fmt.Appendf(body, `"id": %d,`, in.base+int64(i))
	body = append(body, in.tail...)
	mac := hmac.New(sha256.New, in.secret)
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	h.Set("X-Shopify-Webhook-Id", fmt.Sprintf("load-%s-%d", in.r.runID, i))
	a, err := in.r.send(ctx, StepIntake, "POST", in.r.base()+"/api/v1/intake/shopify?source="+in.sourceID, "", body, h, 201)
	if err != nil {
		return "", err
	}
	return a.str("order_id"), nil
}

// approvals takes orders in, submits them as a clerk and approves them
// as an approver: four eyes, each pair signed in once with TOTP.
type approvals struct {
	r      *runner
	intake *intake
	pairs  []pair
}

type pair struct{ clerk, approver string }

func (r *runner) setupApprovals(ctx context.Context) (*approvals, error) {
	in, err := r.setupIntake(ctx)
	if err != nil {
		return nil, err
	}
	n := max(1, min(r.cfg.Users, r.cfg.Concurrency))
	ap := &approvals{r: r, intake: in, pairs: make([]pair, n)}
	for i := range n {
		_, clerk, err := r.signedIn(ctx, fmt.Sprintf("load-%s-clerk%d", r.runID, i), "clerk")
		if err != nil {
			return nil, fmt.Errorf("provision a clerk: %w", err)
		}
		_, approver, err := r.signedIn(ctx, fmt.Sprintf("load-%s-approver%d", r.runID, i), "approver")
		if err != nil {
			return nil, fmt.Errorf("provision an approver: %w", err)
		}
		ap.pairs[i] = pair{clerk, approver}
	}
	return ap, nil
}

// signedIn provisions a user with TOTP and signs it in (password, then a
// fresh code): the session token is at AAL2.
func (r *runner) signedIn(ctx context.Context, name, role string) (*totpUser, string, error) {
	u, _, err := r.provisionTOTP(ctx, name, []string{role})
	if err != nil {
		return nil, "", err
	}
	for {
		if s, ok := usableStep(u, r.now()); ok {
			u.lastStep = s
			break
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
	base := r.base()
	a, err := r.send(ctx, "", "POST", base+"/api/v1/login", "", jsonBody(map[string]string{"username": u.name, "password": u.password}), nil, 200)
	if err != nil {
		return nil, "", err
	}
	period := int64(totp.DefaultParams.Period / time.Second)
	code := totp.Code(u.seed, time.Unix(u.lastStep*period, 0), totp.DefaultParams)
	m, err := r.send(ctx, "", "POST", base+"/api/v1/login/mfa", a.str("session_token"), jsonBody(map[string]string{"method": "totp", "code": code}), nil, 200)
	if err != nil {
		return nil, "", err
	}
	return u, m.str("session_token"), nil
}

// approve takes one order in, submits and approves it.
func (ap *approvals) approve(ctx context.Context, client, i int) error {
	id, err := ap.intake.deliver(ctx, i)
	if err != nil {
		return err
	}
	p := ap.pairs[client%len(ap.pairs)]
	r := ap.r
	if _, err := r.send(ctx, StepSubmit, "PATCH", r.base()+"/api/v1/orders/"+id, p.clerk,
		[]byte(`{"status":"pending_approval"}`), nil, 200); err != nil {
		return err
	}
	_, err = r.send(ctx, StepApproval, "POST", r.base()+"/api/v1/orders/"+id+"/approve", p.approver, nil, nil, 200)
	return err
}
