package smsgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
)

// Opener opens a sealed secret (secret.Keyring does).
type Opener interface {
	Open(sealed, aad []byte) ([]byte, error)
}

// TokenAAD binds the sealed Twilio auth token to its purpose.
const TokenAAD = "sms.twilio.auth_token"

// Twilio sends messages through Twilio's Messages API, and checks SIM
// swaps through Lookup v2. The auth token is held sealed and opened only
// to sign a request.
type Twilio struct {
	// BaseURL is the Messages API root, normally https://api.twilio.com.
	BaseURL string
	// LookupBaseURL is the Lookup API root, normally https://lookups.twilio.com.
	LookupBaseURL string
	AccountSID    string
	// From is the sending number or messaging service SID.
	From string
	// HTTP sends the requests; its Timeout bounds each attempt.
	HTTP *http.Client
	// Attempts is how many times a request is tried in all (5xx, 429 and
	// network errors are retried; 4xx never).
	Attempts int
	// Backoff is the wait before the first retry; it doubles each time.
	Backoff time.Duration
	// MaxWait caps one wait, and a Retry-After longer than it ends the
	// retries: a person is waiting for the code.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	Clock ordergate.Clock

	sealedToken []byte
	opener      Opener
}

// NewTwilio returns a client for account sid sending from from. The auth
// token is given sealed (secret.Keyring.Seal with TokenAAD) together with
// the opener that can open it.
func NewTwilio(baseURL, lookupBaseURL, sid, from string, sealedToken []byte, opener Opener) *Twilio {
	return &Twilio{
		BaseURL: strings.TrimRight(baseURL, "/"), LookupBaseURL: strings.TrimRight(lookupBaseURL, "/"),
		AccountSID: sid, From: from,
		HTTP:     &http.Client{Timeout: 10 * time.Second},
		Attempts: 3, Backoff: 500 * time.Millisecond, MaxWait: 5 * time.Second,
		Sleep: sleep, Clock: ordergate.SystemClock{},
		sealedToken: sealedToken, opener: opener,
	}
}

// String keeps the token out of anything that prints the client.
func (t *Twilio) String() string { return "smsgateway.Twilio{account: " + t.AccountSID + "}" }

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// twilioError is the body of a Twilio error answer.
type twilioError struct {
	Code     json.Number `json:"code"`
	Message  string      `json:"message"`
	MoreInfo string      `json:"more_info"`
	Status   int         `json:"status"`
}

// Send posts the message to {BaseURL}/2010-04-01/Accounts/{sid}/Messages.json
// with form fields To, From and Body.
func (t *Twilio) Send(ctx context.Context, to, body string) error {
	if t.AccountSID == "" || t.From == "" || t.sealedToken == nil {
		return ErrNotConfigured
	}
	form := url.Values{"To": {to}, "From": {t.From}, "Body": {body}}
	endpoint := t.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	_, err := t.do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	})
	return err
}

// do sends the request made by build, retrying temporary failures, and
// returns the body of a 2xx answer.
func (t *Twilio) do(ctx context.Context, build func() (*http.Request, error)) ([]byte, error) {
	attempts := max(t.Attempts, 1)
	wait := t.Backoff
	var last *attemptError
	for i := 0; i < attempts; i++ {
		if i > 0 {
			d := wait
			if last.retryAfter > 0 {
				d = last.retryAfter
			}
			if d > t.MaxWait {
				break
			}
			if err := t.Sleep(ctx, d); err != nil {
				break
			}
			wait *= 2
		}
		req, err := build()
		if err != nil {
			return nil, err
		}
		token, err := t.opener.Open(t.sealedToken, []byte(TokenAAD))
		if err != nil {
			return nil, fmt.Errorf("twilio auth token: %w", err)
		}
		req.SetBasicAuth(t.AccountSID, string(token))
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "ordergate")
		body, perr := t.once(req)
		if perr == nil {
			return body, nil
		}
		last = perr
		if !perr.Temporary {
			return nil, &perr.ProviderError
		}
	}
	return nil, &last.ProviderError
}

// attemptError is a failed attempt with the server's requested wait.
type attemptError struct {
	ProviderError
	retryAfter time.Duration
}

func (t *Twilio) once(req *http.Request) ([]byte, *attemptError) {
	resp, err := t.HTTP.Do(req)
	if err != nil {
		code := "connection_failed"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			code = "timeout"
		}
		// The URL in err holds no secret: basic auth travels in a header.
		return nil, &attemptError{ProviderError: ProviderError{Code: code, Temporary: true, Err: err}}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &attemptError{ProviderError: ProviderError{Status: resp.StatusCode, Code: "read_failed", Temporary: true, Err: err}}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	e := &attemptError{ProviderError: ProviderError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
		Temporary: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500}}
	var te twilioError
	if json.Unmarshal(body, &te) == nil && te.Code != "" {
		e.Code, e.Message, e.MoreInfo = te.Code.String(), te.Message, te.MoreInfo
	}
	if e.Temporary {
		e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), t.Clock.Now())
	}
	return nil, e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// lookupAnswer is the part of a Lookup v2 answer the SIM-swap check reads.
type lookupAnswer struct {
	PhoneNumber string `json:"phone_number"`
	Valid       bool   `json:"valid"`
	SIMSwap     *struct {
		LastSIMSwap *struct {
			LastSIMSwapDate string `json:"last_sim_swap_date"`
			SwappedPeriod   string `json:"swapped_period"`
			SwappedInPeriod bool   `json:"swapped_in_period"`
		} `json:"last_sim_swap"`
		CarrierName string       `json:"carrier_name"`
		ErrorCode   *json.Number `json:"error_code"`
	} `json:"sim_swap"`
}

// RecentSIMSwap asks Lookup v2 (GET {LookupBaseURL}/v2/PhoneNumbers/{phone}?Fields=sim_swap)
// whether phone's SIM changed within the given time. When the carrier
// gives no date but reports a swap within its own period, it answers true
// whatever that period: the safe side for a sign-in code. Errors are
// *ProviderError; a carrier that cannot answer gives Code "sim_swap_<code>".
func (t *Twilio) RecentSIMSwap(ctx context.Context, phone string, within time.Duration) (bool, error) {
	if t.AccountSID == "" || t.sealedToken == nil {
		return false, ErrNotConfigured
	}
	endpoint := t.LookupBaseURL + "/v2/PhoneNumbers/" + url.PathEscape(phone) + "?Fields=sim_swap"
	body, err := t.do(ctx, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	})
	if err != nil {
		return false, err
	}
	var a lookupAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return false, &ProviderError{Status: http.StatusOK, Code: "bad_lookup_answer", Err: err}
	}
	if a.SIMSwap == nil {
		return false, &ProviderError{Status: http.StatusOK, Code: "sim_swap_missing", Message: "the answer has no sim_swap field"}
	}
	if a.SIMSwap.ErrorCode != nil {
		return false, &ProviderError{Status: http.StatusOK, Code: "sim_swap_" + a.SIMSwap.ErrorCode.String(),
			Message: "the carrier could not report SIM changes"}
	}
	last := a.SIMSwap.LastSIMSwap
	if last == nil {
		return false, nil
	}
	if last.LastSIMSwapDate != "" {
		at, err := time.Parse(time.RFC3339, last.LastSIMSwapDate)
		if err != nil {
			return false, &ProviderError{Status: http.StatusOK, Code: "bad_lookup_answer", Err: err}
		}
		return t.Clock.Now().Sub(at) < within, nil
	}
	if !last.SwappedInPeriod {
		// No swap in the carrier's period: no evidence against the number.
		return false, nil
	}
	// A swap within the carrier's period: recent enough when the period
	// fits our window, and, not knowing better, also when it does not.
	return true, nil
}
