package smsgateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok_secret_value_42"
	testFrom  = "+15005550006"
)

// plainOpener stands in for the keyring: the "sealed" token is the token
// prefixed with "sealed:" and the aad must match.
type plainOpener struct{}

func (plainOpener) Open(sealed, aad []byte) ([]byte, error) {
	if string(aad) != TokenAAD {
		return nil, errors.New("wrong aad")
	}
	t, ok := strings.CutPrefix(string(sealed), "sealed:")
	if !ok {
		return nil, errors.New("not sealed")
	}
	return []byte(t), nil
}

// fixedClock is a clock standing still.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var testNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// reply is one canned answer of the fake Twilio.
type reply struct {
	status int
	header map[string]string
	body   string
}

// fakeTwilio answers requests with replies in order (the last one
// repeats) and records what it received.
type fakeTwilio struct {
	t       *testing.T
	mu      sync.Mutex
	replies []reply
	got     []*http.Request
	forms   []url.Values
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.got = append(f.got, r.Clone(context.Background()))
	f.forms = append(f.forms, form)
	rep := f.replies[min(len(f.got)-1, len(f.replies)-1)]
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if strings.HasPrefix(rep.body, "{") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func twilioErrorBody(code, status int, msg string) string {
	return fmt.Sprintf(`{"code": %d, "message": %q, "more_info": "https://www.twilio.com/docs/errors/%d", "status": %d}`, code, msg, code, status)
}

const createdBody = `{"account_sid": "` + testSID + `", "api_version": "2010-04-01", "body": "hi", "date_created": "Thu, 27 Nov 2026 09:00:00 +0000",
 "direction": "outbound-api", "error_code": null, "error_message": null, "from": "` + testFrom + `", "num_segments": "1",
 "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "to": "+14155550100",
 "uri": "/2010-04-01/Accounts/` + testSID + `/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json"}`

// newTestTwilio returns a client for the fake at url, whose sleeps are
// recorded instead of waited.
func newTestTwilio(url string) (*Twilio, *[]time.Duration) {
	c := NewTwilio(url, url, testSID, testFrom, []byte("sealed:"+testToken), plainOpener{})
	c.Clock = fixedClock{testNow}
	var slept []time.Duration
	c.Sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}
	return c, &slept
}

func TestTwilioSendRequest(t *testing.T) {
	fake := &fakeTwilio{t: t, replies: []reply{{status: 201, body: createdBody}}}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	c, _ := newTestTwilio(hs.URL + "/")
	if err := c.Send(context.Background(), "+14155550100", "Your code is 123456"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(fake.got) != 1 {
		t.Fatalf("requests = %d, want 1", len(fake.got))
	}
	r := fake.got[0]
	if got, want := r.Method, "POST"; got != want {
		t.Errorf("method = %s, want %s", got, want)
	}
	if got, want := r.URL.Path, "/2010-04-01/Accounts/"+testSID+"/Messages.json"; got != want {
		t.Errorf("path = %s, want %s", got, want)
	}
	if got, want := r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != testSID || pass != testToken {
		t.Errorf("basic auth = %q, %q, %v; want the account SID and token", user, pass, ok)
	}
	want := url.Values{"To": {"+14155550100"}, "From": {testFrom}, "Body": {"Your code is 123456"}}
	if got := fake.forms[0]; got.Encode() != want.Encode() {
		t.Errorf("form = %v, want %v", got, want)
	}
}

func TestTwilioSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		replies   []reply
		wantErr   bool
		wantCode  string
		wantHTTP  int
		wantCalls int
		wantSleep []time.Duration
	}{
		{"invalid number 400", []reply{{400, nil, twilioErrorBody(21211, 400, "The 'To' number +1415555 is not a valid phone number.")}},
			true, "21211", 400, 1, nil},
		{"bad credentials 401", []reply{{401, nil, twilioErrorBody(20003, 401, "Authenticate")}},
			true, "20003", 401, 1, nil},
		{"unsubscribed 400 never retried", []reply{{400, nil, twilioErrorBody(21610, 400, "Attempt to send to unsubscribed recipient")}},
			true, "21610", 400, 1, nil},
		{"429 then created, Retry-After honoured", []reply{{429, map[string]string{"Retry-After": "2"}, twilioErrorBody(20429, 429, "Too Many Requests")}, {201, nil, createdBody}},
			false, "", 0, 2, []time.Duration{2 * time.Second}},
		{"429 with a Retry-After too long to wait", []reply{{429, map[string]string{"Retry-After": "120"}, twilioErrorBody(20429, 429, "Too Many Requests")}},
			true, "20429", 429, 1, nil},
		{"429 with an HTTP-date Retry-After", []reply{{429, map[string]string{"Retry-After": testNow.Add(3 * time.Second).Format(http.TimeFormat)}, twilioErrorBody(20429, 429, "Too Many Requests")}, {201, nil, createdBody}},
			false, "", 0, 2, []time.Duration{3 * time.Second}},
		{"500 every time, back-off doubles", []reply{{500, nil, twilioErrorBody(20500, 500, "Internal Server Error")}},
			true, "20500", 500, 3, []time.Duration{500 * time.Millisecond, time.Second}},
		{"503 with an HTML body", []reply{{503, nil, "<html>Service Unavailable</html>"}},
			true, "http_503", 503, 3, []time.Duration{500 * time.Millisecond, time.Second}},
		{"500 then created", []reply{{500, nil, twilioErrorBody(20500, 500, "Internal Server Error")}, {201, nil, createdBody}},
			false, "", 0, 2, []time.Duration{500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeTwilio{t: t, replies: tt.replies}
			hs := httptest.NewServer(fake)
			defer hs.Close()
			c, slept := newTestTwilio(hs.URL)
			err := c.Send(context.Background(), "+14155550100", "Your code is 123456")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send error = %v, want error %v", err, tt.wantErr)
			}
			if got := len(fake.got); got != tt.wantCalls {
				t.Errorf("requests = %d, want %d", got, tt.wantCalls)
			}
			if fmt.Sprint(*slept) != fmt.Sprint(tt.wantSleep) {
				t.Errorf("waits = %v, want %v", *slept, tt.wantSleep)
			}
			if !tt.wantErr {
				return
			}
			var pe *ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ProviderError", err)
			}
			if pe.Code != tt.wantCode || pe.Status != tt.wantHTTP {
				t.Errorf("ProviderError code %q status %d, want %q %d", pe.Code, pe.Status, tt.wantCode, tt.wantHTTP)
			}
			if !strings.Contains(err.Error(), tt.wantCode) {
				t.Errorf("error text %q does not carry the provider code", err)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "123456") {
				t.Errorf("error text %q holds the token or the message", err)
			}
		})
	}
}

func TestTwilioConnectionRefused(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	addr := hs.URL
	hs.Close() // nothing listens there any more
	c, slept := newTestTwilio(addr)
	err := c.Send(context.Background(), "+14155550100", "Your code is 123456")
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "connection_failed" || pe.Status != 0 || !pe.Temporary {
		t.Fatalf("Send to a closed port = %v, want a temporary connection_failed ProviderError", err)
	}
	if len(*slept) != 2 {
		t.Errorf("waits = %v, want two retries", *slept)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error text %q holds the token", err)
	}
}

func TestTwilioNotConfigured(t *testing.T) {
	c := NewTwilio("http://127.0.0.1:1", "", "", "", nil, plainOpener{})
	if err := c.Send(context.Background(), "+14155550100", "x"); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Send without account = %v, want ErrNotConfigured", err)
	}
	if s := fmt.Sprintf("%v %+v", c, c); strings.Contains(s, "sealed") {
		t.Errorf("printing the client shows its token: %s", s)
	}
}

func lookupBody(simSwap string) string {
	return `{"calling_country_code": "1", "country_code": "US", "phone_number": "+14155550100", "national_format": "(415) 555-0100",
 "valid": true, "validation_errors": [], "caller_name": null, "sim_swap": ` + simSwap + `, "call_forwarding": null, "line_type_intelligence": null,
 "url": "https://lookups.twilio.com/v2/PhoneNumbers/+14155550100"}`
}

func TestTwilioRecentSIMSwap(t *testing.T) {
	const week = 7 * 24 * time.Hour
	tests := []struct {
		name     string
		reply    reply
		want     bool
		wantCode string
	}{
		{"swapped two days ago", reply{200, nil, lookupBody(`{"last_sim_swap": {"last_sim_swap_date": "2026-11-25T10:18:50Z", "swapped_period": "PT46H41M10S", "swapped_in_period": true}, "carrier_name": "Vodafone UK", "mobile_country_code": "234", "mobile_network_code": "15", "error_code": null}`)}, true, ""},
		{"swapped a year ago", reply{200, nil, lookupBody(`{"last_sim_swap": {"last_sim_swap_date": "2025-11-01T00:00:00Z", "swapped_period": "PT9000H", "swapped_in_period": true}, "carrier_name": "T-Mobile USA, Inc.", "mobile_country_code": "310", "mobile_network_code": "160", "error_code": null}`)}, false, ""},
		{"no date, swapped in period", reply{200, nil, lookupBody(`{"last_sim_swap": {"last_sim_swap_date": null, "swapped_period": "PT24H", "swapped_in_period": true}, "carrier_name": "EE", "mobile_country_code": "234", "mobile_network_code": "30", "error_code": null}`)}, true, ""},
		{"no date, not swapped in period", reply{200, nil, lookupBody(`{"last_sim_swap": {"last_sim_swap_date": null, "swapped_period": "PT24H", "swapped_in_period": false}, "carrier_name": "EE", "mobile_country_code": "234", "mobile_network_code": "30", "error_code": null}`)}, false, ""},
		{"carrier cannot tell", reply{200, nil, lookupBody(`{"last_sim_swap": null, "carrier_name": null, "mobile_country_code": null, "mobile_network_code": null, "error_code": 60606}`)}, false, "sim_swap_60606"},
		{"package not enabled", reply{403, nil, twilioErrorBody(60600, 403, "Unprovisioned or Out of Coverage")}, false, "60600"},
		{"not found", reply{404, nil, twilioErrorBody(20404, 404, "The requested resource /PhoneNumbers/+1 was not found")}, false, "20404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeTwilio{t: t, replies: []reply{tt.reply}}
			hs := httptest.NewServer(fake)
			defer hs.Close()
			c, _ := newTestTwilio(hs.URL)
			got, err := c.RecentSIMSwap(context.Background(), "+14155550100", week)
			var pe *ProviderError
			errors.As(err, &pe)
			if tt.wantCode != "" {
				if pe == nil || pe.Code != tt.wantCode {
					t.Fatalf("RecentSIMSwap error = %v, want provider code %s", err, tt.wantCode)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("RecentSIMSwap = %v, %v; want %v, nil", got, err, tt.want)
			}
			r := fake.got[0]
			if r.Method != "GET" || r.URL.Path != "/v2/PhoneNumbers/+14155550100" || r.URL.RawQuery != "Fields=sim_swap" {
				t.Errorf("request = %s %s?%s, want GET /v2/PhoneNumbers/+14155550100?Fields=sim_swap", r.Method, r.URL.Path, r.URL.RawQuery)
			}
			if user, pass, _ := r.BasicAuth(); user != testSID || pass != testToken {
				t.Errorf("basic auth = %q, %q", user, pass)
			}
		})
	}
}
