package web_test

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/smsgateway"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/web"
)

// phoneNetwork stands in for the phone network: it keeps every text sent.
type phoneNetwork struct {
	mu   sync.Mutex
	msgs []struct{ to, body string }
}

// Send records the message.
func (p *phoneNetwork) Send(ctx context.Context, to, body string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, struct{ to, body string }{to, body})
	return nil
}

// count returns how many messages went to to.
func (p *phoneNetwork) count(to string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.msgs {
		if m.to == to {
			n++
		}
	}
	return n
}

// last returns the newest message to to.
func (p *phoneNetwork) last(t *testing.T, to string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.msgs) - 1; i >= 0; i-- {
		if p.msgs[i].to == to {
			return p.msgs[i].body
		}
	}
	t.Fatalf("no message to %s", to)
	return ""
}

var codeInText = regexp.MustCompile(`code is (\d{6})\.`)

// code returns the code in the newest message to to.
func (p *phoneNetwork) code(t *testing.T, to string) string {
	t.Helper()
	m := codeInText.FindStringSubmatch(p.last(t, to))
	if m == nil {
		t.Fatalf("no code in %q", p.last(t, to))
	}
	return m[1]
}

// smsServer is a test server with SMS, recovery and notifications on.
type smsServer struct {
	*testServer
	phones  *phoneNetwork
	notices *phoneNetwork
}

// newSMSServer starts a server whose texts go to a phoneNetwork;
// configure, when set, adjusts the Recovery wiring.
func newSMSServer(t *testing.T, configure func(*auth.Recovery)) *smsServer {
	t.Helper()
	phones, notices := &phoneNetwork{}, &phoneNetwork{}
	ts := newTestServer(t, func(s *web.Server) {
		s.Auth.Policy.Available = []string{auth.MethodTOTP, auth.MethodSMS, auth.MethodBackupCode}
		s.Auth.Recovery = &auth.Recovery{Store: s.Auth.Store.(auth.RecoveryStore), SMS: phones, Notices: notices,
			CodeKey: []byte("sms code key of thirty-two bytes"), Host: "oms.example.com", PublicURL: "https://oms.example.com"}
		if configure != nil {
			configure(s.Auth.Recovery)
		}
	})
	return &smsServer{testServer: ts, phones: phones, notices: notices}
}

// addUser creates a user with roles and an optional pre-registered phone.
func (ts *smsServer) addUser(t *testing.T, name, phone string, roles ...string) *auth.User {
	t.Helper()
	u, err := ts.Auth.CreateUser(context.Background(), ordergate.SystemActor,
		auth.NewUser{Username: name, Password: adminPassword, Phone: phone, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn posts a password and returns the answer's JSON.
func (ts *smsServer) signIn(t *testing.T, name string) map[string]any {
	t.Helper()
	a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody(name, adminPassword))
	if a.Status != http.StatusOK {
		t.Fatalf("login %s = %d %s", name, a.Status, a.Body)
	}
	return a.JSON(t)
}

// post sends a JSON body with a bearer token.
func (ts *smsServer) post(t *testing.T, token, path string, body any) answer {
	t.Helper()
	s := ""
	if body != nil {
		s = jsonBody(body)
	}
	return ts.do(t, "POST", path, jsonType, s, bearer(token))
}

// enrollTOTP enrolls an authenticator app on an enrollment or AAL1
// session and returns the new token and the seed.
func (ts *smsServer) enrollTOTP(t *testing.T, token string) (string, []byte) {
	t.Helper()
	a := ts.post(t, token, "/api/v1/me/factors/totp", nil)
	if a.Status != http.StatusCreated {
		t.Fatalf("POST totp = %d %s", a.Status, a.Body)
	}
	m := a.JSON(t)
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(m["secret"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	c := ts.post(t, token, "/api/v1/me/factors/totp/"+m["id"].(string)+"/confirm",
		map[string]string{"code": totp.Code(seed, ts.Clock.Now(), totp.DefaultParams)})
	if c.Status != http.StatusOK {
		t.Fatalf("confirm totp = %d %s", c.Status, c.Body)
	}
	if tok, ok := c.JSON(t)["session_token"].(string); ok {
		token = tok
	}
	return token, seed
}

// signInTOTP signs in with password and a TOTP code; it returns an AAL2 token.
func (ts *smsServer) signInTOTP(t *testing.T, name string, seed []byte) string {
	t.Helper()
	m := ts.signIn(t, name)
	ts.Clock.Add(30 * time.Second) // a fresh time step: codes are single-use
	a := ts.post(t, m["session_token"].(string), "/api/v1/login/mfa",
		map[string]string{"method": "totp", "code": totp.Code(seed, ts.Clock.Now(), totp.DefaultParams)})
	if a.Status != http.StatusOK {
		t.Fatalf("login/mfa totp %s = %d %s", name, a.Status, a.Body)
	}
	return a.JSON(t)["session_token"].(string)
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, what string, a answer, status int, code string) map[string]any {
	t.Helper()
	if a.Status != status {
		t.Fatalf("%s = %d %s, want %d %s", what, a.Status, a.Body, status, code)
	}
	m := a.JSON(t)
	if m["error"] != code {
		t.Fatalf("%s error = %v, want %s", what, m["error"], code)
	}
	return m
}

// auditEvents returns the audit events with action.
func auditEvents(t *testing.T, ts *smsServer, action string) []audit.Event {
	t.Helper()
	evs, err := ts.Auth.Store.(*sqlstore.DB).AuditEvents(context.Background(), audit.Filter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSMSEnrollAndSignIn(t *testing.T) {
	ts := newSMSServer(t, nil)
	ts.addUser(t, "sam", "", auth.RoleClerk)
	tok := ts.signIn(t, "sam")["session_token"].(string)

	bad := []struct{ phone, why string }{
		{"not a phone", "text"}, {"4155550100", "no country"}, {"+1415555", "too short"}, {"+442079460000", "landline"},
	}
	for _, b := range bad {
		a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": b.phone})
		m := wantError(t, "enroll "+b.why, a, http.StatusUnprocessableEntity, ordergate.EUNPROCESSABLE)
		if f, _ := m["fields"].(map[string]any); f["phone"] == nil {
			t.Errorf("enroll %s: fields = %v, want phone named", b.why, m["fields"])
		}
	}

	a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+1 (415) 555-0100"})
	if a.Status != http.StatusCreated {
		t.Fatalf("enroll = %d %s", a.Status, a.Body)
	}
	m := a.JSON(t)
	id := m["id"].(string)
	if notice, _ := m["notice"].(string); !strings.Contains(notice, "weakest") {
		t.Errorf("notice = %q, want the warning that SMS is weaker", notice)
	}
	if alt := fmt.Sprint(m["alternatives"]); !strings.Contains(alt, "totp") {
		t.Errorf("alternatives = %s, want totp offered", alt)
	}
	const phone = "+14155550100"
	enrollCode := ts.phones.code(t, phone)
	if strings.Contains(string(a.Body), enrollCode) {
		t.Errorf("the enroll answer holds the code")
	}
	if !strings.HasSuffix(ts.phones.last(t, phone), "@oms.example.com #"+enrollCode) {
		t.Errorf("message %q lacks the origin-bound line", ts.phones.last(t, phone))
	}
	wrong := fmt.Sprintf("%06d", (atoi(enrollCode)+1)%1000000)
	wantError(t, "confirm with a wrong code", ts.post(t, tok, "/api/v1/me/factors/sms/"+id+"/confirm", map[string]string{"code": wrong}),
		http.StatusUnauthorized, ordergate.ECODE)
	if a := ts.post(t, tok, "/api/v1/me/factors/sms/"+id+"/confirm", map[string]string{"code": enrollCode}); a.Status != http.StatusOK {
		t.Fatalf("confirm = %d %s", a.Status, a.Body)
	}

	// Sign in again: SMS is now the second factor.
	login := ts.signIn(t, "sam")
	if login["state"] != auth.LoginMFARequired || !strings.Contains(fmt.Sprint(login["methods"]), "sms") {
		t.Fatalf("login = %v, want mfa_required with sms", login)
	}
	pending := login["session_token"].(string)
	wantError(t, "the enroll code signs in", ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": enrollCode}),
		http.StatusUnauthorized, ordergate.ECODE)
	if a := ts.post(t, pending, "/api/v1/login/mfa/sms/send", nil); a.Status != http.StatusAccepted {
		t.Fatalf("sms/send = %d %s", a.Status, a.Body)
	}
	first := ts.phones.code(t, phone)
	ts.post(t, pending, "/api/v1/login/mfa/sms/send", nil)
	second := ts.phones.code(t, phone)
	if first != second {
		wantError(t, "a replaced code", ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": first}),
			http.StatusUnauthorized, ordergate.ECODE)
	}
	a = ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": second})
	if a.Status != http.StatusOK || a.JSON(t)["aal"] != float64(2) {
		t.Fatalf("login/mfa sms = %d %s, want 200 aal 2", a.Status, a.Body)
	}

	// The same code does not sign in twice, and an expired code not at all.
	pending = ts.signIn(t, "sam")["session_token"].(string)
	wantError(t, "a used code", ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": second}),
		http.StatusUnauthorized, ordergate.ECODE)
	ts.Clock.Add(15 * time.Minute) // past the send window too
	pending = ts.signIn(t, "sam")["session_token"].(string)
	ts.post(t, pending, "/api/v1/login/mfa/sms/send", nil)
	late := ts.phones.code(t, phone)
	ts.Clock.Add(5*time.Minute + time.Second)
	pending = ts.signIn(t, "sam")["session_token"].(string)
	wantError(t, "an expired code", ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": late}),
		http.StatusUnauthorized, ordergate.ECODE)
	wantError(t, "a malformed code", ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": "12ab56"}),
		http.StatusBadRequest, ordergate.EINVALID)
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

func TestSMSSendLimit(t *testing.T) {
	ts := newSMSServer(t, nil)
	ts.addUser(t, "sam", "", auth.RoleClerk)
	tok := ts.signIn(t, "sam")["session_token"].(string)
	for i := range 3 {
		if a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"}); a.Status != http.StatusCreated {
			t.Fatalf("send %d = %d %s", i+1, a.Status, a.Body)
		}
	}
	a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"})
	wantError(t, "fourth send in 15 minutes", a, http.StatusTooManyRequests, ordergate.ERATELIMIT)
	if a.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if got := ts.phones.count("+14155550100"); got != 3 {
		t.Errorf("texts sent = %d, want 3", got)
	}
}

// fakeTwilio answers like Twilio: Messages with status, and Lookup with
// a SIM swap on the given date.
func fakeTwilio(t *testing.T, status int, simSwapDate string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var got []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/v2/PhoneNumbers/") {
			fmt.Fprintf(w, `{"phone_number": "+14155550100", "valid": true, "sim_swap": {"last_sim_swap": {"last_sim_swap_date": %q, "swapped_period": "PT48H", "swapped_in_period": true}, "carrier_name": "X", "error_code": null}}`, simSwapDate)
			return
		}
		w.WriteHeader(status)
		if status >= 400 {
			fmt.Fprintf(w, `{"code": %d, "message": "fake failure", "more_info": "https://www.twilio.com/docs/errors/%d", "status": %d}`, 20000+status, 20000+status, status)
			return
		}
		io.WriteString(w, `{"sid": "SM123", "status": "queued"}`)
	}))
	t.Cleanup(hs.Close)
	return hs, &got
}

type plainKey struct{}

func (plainKey) Open(sealed, aad []byte) ([]byte, error) { return sealed, nil }

func TestSMSProviderOutage(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name     string
		url      func(t *testing.T) string
		wantCode string
	}{
		{"connection refused", func(t *testing.T) string { return closed.URL }, "connection_failed"},
		{"500", func(t *testing.T) string { hs, _ := fakeTwilio(t, 500, ""); return hs.URL }, "20500"},
		{"429", func(t *testing.T) string { hs, _ := fakeTwilio(t, 429, ""); return hs.URL }, "20429"},
		{"401 bad credentials", func(t *testing.T) string { hs, _ := fakeTwilio(t, 401, ""); return hs.URL }, "20401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			ts := newSMSServer(t, func(r *auth.Recovery) {
				tw := smsgateway.NewTwilio(url, url, "AC1", "+15005550006", []byte("token"), plainKey{})
				tw.Sleep = func(context.Context, time.Duration) error { return nil }
				r.SMS = tw
			})
			ts.addUser(t, "sam", "", auth.RoleClerk)
			tok := ts.signIn(t, "sam")["session_token"].(string)
			for range 5 { // more than the send limit: failures consume nothing
				a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"})
				m := wantError(t, "enroll during an outage", a, http.StatusServiceUnavailable, ordergate.EUNAVAILABLE)
				if m["message"] != "could not send the code, try another method" {
					t.Errorf("message = %q", m["message"])
				}
			}
			evs := auditEvents(t, ts, "sms.send")
			if len(evs) != 5 || evs[0].Outcome != audit.OutcomeFailed || evs[0].Data["provider_error"] != tt.wantCode {
				t.Errorf("sms.send audit = %+v, want 5 failures with provider_error %s", evs, tt.wantCode)
			}
			fs, _ := ts.Auth.Store.Factors(context.Background(), evs[0].SubjectID)
			if len(fs) != 0 {
				t.Errorf("factors after failed sends = %d, want 0", len(fs))
			}
		})
	}
}

func TestSMSSIMSwap(t *testing.T) {
	tests := []struct {
		name      string
		swapDate  string
		wantSent  bool
		wantError string
	}{
		{"swapped yesterday", "2026-11-26T08:00:00Z", false, ordergate.EFORBIDDEN},
		{"swapped a month ago", "2026-10-27T08:00:00Z", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, got := fakeTwilio(t, 201, tt.swapDate)
			var ts *smsServer
			ts = newSMSServer(t, func(r *auth.Recovery) {
				tw := smsgateway.NewTwilio(hs.URL, hs.URL, "AC1", "+15005550006", []byte("token"), plainKey{})
				r.SMS, r.SIMSwap, r.SIMSwapWindow = tw, tw, 7*24*time.Hour
			})
			ts.addUser(t, "sam", "", auth.RoleClerk)
			tok := ts.signIn(t, "sam")["session_token"].(string)
			a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"})
			sent := slices.Contains(*got, "POST /2010-04-01/Accounts/AC1/Messages.json")
			if sent != tt.wantSent {
				t.Errorf("message sent = %v, want %v (requests %v)", sent, tt.wantSent, *got)
			}
			if tt.wantError == "" {
				if a.Status != http.StatusCreated {
					t.Fatalf("enroll = %d %s", a.Status, a.Body)
				}
				return
			}
			m := wantError(t, "enroll a swapped number", a, http.StatusForbidden, tt.wantError)
			if m["reason"] != "sim_swap" || !strings.Contains(m["message"].(string), "SIM") {
				t.Errorf("answer = %v, want reason sim_swap and a message saying why", m)
			}
		})
	}
}

func TestSMSRestricted(t *testing.T) {
	ts := newSMSServer(t, nil)
	ts.Auth.Policy.SMSForbiddenRoles = []string{auth.RoleApprover}
	ts.addUser(t, "ann", "", auth.RoleAdmin)
	ts.addUser(t, "apu", "", auth.RoleApprover)

	// An administrator cannot make SMS the first (and so only) factor.
	login := ts.signIn(t, "ann")
	tok := login["session_token"].(string)
	a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"})
	wantError(t, "admin enrolls SMS first", a, http.StatusForbidden, ordergate.EFORBIDDEN)
	tok, _ = ts.enrollTOTP(t, tok)
	if a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": "+14155550100"}); a.Status != http.StatusCreated {
		t.Errorf("admin adds SMS as a fallback = %d %s, want 201", a.Status, a.Body)
	}

	// A role policy forbids SMS: not offered, not enrollable.
	login = ts.signIn(t, "apu")
	if strings.Contains(fmt.Sprint(login["methods"]), "sms") {
		t.Errorf("methods for a role without SMS = %v", login["methods"])
	}
	wantError(t, "forbidden role enrolls SMS", ts.post(t, login["session_token"].(string), "/api/v1/me/factors/sms",
		map[string]string{"phone": "+14155550100"}), http.StatusForbidden, ordergate.EFORBIDDEN)

	// SMS is never offered without a non-restricted method beside it.
	ts.Auth.Policy.Available = []string{auth.MethodSMS, auth.MethodBackupCode}
	if m := ts.Auth.Policy.Methods(&auth.User{Roles: []string{auth.RoleClerk}}, nil); slices.Contains(m, auth.MethodSMS) {
		t.Errorf("Methods with only SMS available = %v, want no sms", m)
	}
}

func TestSMSNumberChange(t *testing.T) {
	ts := newSMSServer(t, nil)
	ts.addUser(t, "sam", "", auth.RoleClerk)
	tok := ts.signIn(t, "sam")["session_token"].(string)
	const oldPhone, newPhone = "+14155550100", "+491701234567"
	id := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": oldPhone}).JSON(t)["id"].(string)
	ts.post(t, tok, "/api/v1/me/factors/sms/"+id+"/confirm", map[string]string{"code": ts.phones.code(t, oldPhone)})

	pending := ts.signIn(t, "sam")["session_token"].(string)
	ts.post(t, pending, "/api/v1/login/mfa/sms/send", nil)
	tok = ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "sms", "code": ts.phones.code(t, oldPhone)}).JSON(t)["session_token"].(string)

	ts.Clock.Add(6 * time.Minute)
	a := ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": newPhone})
	wantError(t, "number change with a stale factor", a, http.StatusUnauthorized, ordergate.ESTEPUP)

	ts.Clock.Add(15 * time.Minute) // a new send window
	ts.post(t, tok, "/api/v1/login/mfa/sms/send", nil)
	if a := ts.post(t, tok, "/api/v1/step-up", map[string]string{"method": "sms", "code": ts.phones.code(t, oldPhone)}); a.Status != http.StatusOK {
		t.Fatalf("step-up by sms = %d %s", a.Status, a.Body)
	}
	a = ts.post(t, tok, "/api/v1/me/factors/sms", map[string]string{"phone": newPhone})
	if a.Status != http.StatusCreated {
		t.Fatalf("number change after step-up = %d %s", a.Status, a.Body)
	}
	newID := a.JSON(t)["id"].(string)
	if a := ts.post(t, tok, "/api/v1/me/factors/sms/"+newID+"/confirm", map[string]string{"code": ts.phones.code(t, newPhone)}); a.Status != http.StatusOK {
		t.Fatalf("confirm new number = %d %s", a.Status, a.Body)
	}
	if err := ts.Auth.DispatchNotifications(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msg := ts.phones.last(t, oldPhone); !strings.Contains(msg, "was changed") || !strings.Contains(msg, "+49170•••4567") {
		t.Errorf("old number's last message = %q, want the change notice", msg)
	}
	fs := ts.do(t, "GET", "/api/v1/me/factors", "", "", bearer(tok))
	if n := strings.Count(string(fs.Body), `"type":"sms"`); n != 1 {
		t.Errorf("sms factors after the change = %d, want 1: %s", n, fs.Body)
	}
}

func TestSMSVouchFirstEnrollment(t *testing.T) {
	ts := newSMSServer(t, nil)
	const phone = "+14155550123"
	ts.addUser(t, "val", phone, auth.RoleClerk)
	tok := ts.signIn(t, "val")["session_token"].(string)

	a := ts.post(t, tok, "/api/v1/me/factors/totp", nil)
	m := wantError(t, "TOTP before the phone vouched", a, http.StatusForbidden, ordergate.EFORBIDDEN)
	if v, _ := m["vouch"].(map[string]any); v["phone"] != "+1415•••0123" {
		t.Errorf("vouch details = %v", m["vouch"])
	}
	if a := ts.post(t, tok, "/api/v1/me/vouch/sms/send", nil); a.Status != http.StatusAccepted {
		t.Fatalf("vouch send = %d %s", a.Status, a.Body)
	}
	code := ts.phones.code(t, phone)
	wantError(t, "vouch with a wrong code", ts.post(t, tok, "/api/v1/me/vouch/sms", map[string]string{"code": fmt.Sprintf("%06d", (atoi(code)+1)%1000000)}),
		http.StatusUnauthorized, ordergate.ECODE)
	if a := ts.post(t, tok, "/api/v1/me/vouch/sms", map[string]string{"code": code}); a.Status != http.StatusOK {
		t.Fatalf("vouch = %d %s", a.Status, a.Body)
	}
	ts.enrollTOTP(t, tok)
	if evs := auditEvents(t, ts, "enroll.vouch"); len(evs) != 2 || evs[0].Outcome != audit.OutcomeOK {
		t.Errorf("enroll.vouch audit = %+v, want a success after a failure", evs)
	}
	// With a factor enrolled no more vouching is asked.
	tok2 := ts.signIn(t, "val")["session_token"].(string)
	wantError(t, "vouch when not needed", ts.post(t, tok2, "/api/v1/me/vouch/sms/send", nil), http.StatusForbidden, ordergate.EFORBIDDEN)
}
