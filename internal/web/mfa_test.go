package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/testenv"
	"github.com/ordergate/ordergate/internal/web"
)

// oathtool computes a TOTP code with the independent oathtool client.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	bin := testenv.Tool(t, "oathtool")
	out, err := exec.Command(bin, "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

const adminPassword = "admin passphrase for tests"

// newAdminServer is a test server with the default policy (admin and
// approver need a second factor) and the admin carol.
func newAdminServer(t *testing.T) *testServer {
	ts := newTestServer(t, func(s *web.Server) {
		s.Auth.Policy.Available = []string{auth.MethodTOTP, auth.MethodBackupCode}
	})
	_, err := ts.Auth.CreateUser(context.Background(), auth.UserActor(&auth.User{}, nil),
		auth.NewUser{Username: "carol", Password: adminPassword, Roles: []string{auth.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func bearer(token string) string { return "Authorization: Bearer " + token }

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTOTPJourney walks an admin through the whole second-factor life:
// forced enrollment, confirmation, backup codes, sign-in with a code, replay
// refusal, backup-code sign-in, throttling, and step-up before removal.
func TestTOTPJourney(t *testing.T) {
	ts := newAdminServer(t)
	login := func() map[string]any {
		a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("carol", adminPassword))
		if a.Status != 200 {
			t.Fatalf("login = %d %s", a.Status, a.Body)
		}
		return a.JSON(t)
	}
	first := login()
	if first["state"] != "enrollment_required" || !strings.Contains(fmt.Sprint(first["reasons"]), "role:admin") {
		t.Fatalf("first login = %v, want enrollment_required because of role:admin", first)
	}
	pending := first["session_token"].(string)
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(pending)); a.Status != http.StatusForbidden {
		t.Errorf("enrollment-only session reading /api/v1/session = %d, want 403", a.Status)
	}

	a := ts.do(t, "POST", "/api/v1/me/factors/totp", jsonType, "", bearer(pending))
	if a.Status != http.StatusCreated {
		t.Fatalf("begin TOTP = %d %s", a.Status, a.Body)
	}
	enr := a.JSON(t)
	secretB32, id := enr["secret"].(string), enr["id"].(string)
	if !strings.HasPrefix(enr["otpauth_uri"].(string), "otpauth://totp/ordergate:carol?") || len(enr["qr_png"].(string)) < 100 {
		t.Errorf("enrollment = %v", enr)
	}
	for _, tc := range []struct {
		id, code string
		status   int
		errCode  string
	}{
		{id, "12345a", 400, "invalid_request"},
		{id, "000000", 401, "invalid_code"},
		{"fac_unknown", "123456", 404, "not_found"},
	} {
		a := ts.do(t, "POST", "/api/v1/me/factors/totp/"+tc.id+"/confirm", jsonType, jsonBody(map[string]string{"code": tc.code}), bearer(pending))
		if a.Status != tc.status || a.JSON(t)["error"] != tc.errCode {
			t.Errorf("confirm(%s, %s) = %d %s, want %d %s", tc.id, tc.code, a.Status, a.Body, tc.status, tc.errCode)
		}
	}
	code := oathtool(t, secretB32, ts.Clock.Now())
	a = ts.do(t, "POST", "/api/v1/me/factors/totp/"+id+"/confirm", jsonType, jsonBody(map[string]string{"code": code}), bearer(pending))
	conf := a.JSON(t)
	if a.Status != 200 || conf["confirmed"] != true || conf["aal"] != 2.0 || conf["session_token"] == pending {
		t.Fatalf("confirm = %d %v, want confirmed with a new AAL2 token", a.Status, conf)
	}
	active := conf["session_token"].(string)
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(pending)); a.Status != 401 {
		t.Errorf("old enrollment token after upgrade = %d, want 401", a.Status)
	}
	a = ts.do(t, "POST", "/api/v1/me/factors/totp/"+id+"/confirm", jsonType, jsonBody(map[string]string{"code": code}), bearer(active))
	if a.Status != http.StatusConflict {
		t.Errorf("confirming twice = %d, want 409", a.Status)
	}
	a = ts.do(t, "POST", "/api/v1/me/backup-codes", jsonType, "", bearer(active))
	var codes struct{ Codes []string }
	json.Unmarshal(a.Body, &codes)
	if a.Status != 201 || len(codes.Codes) != 10 {
		t.Fatalf("backup codes = %d %s", a.Status, a.Body)
	}

	// Sign in again: the enrollment code's step is spent.
	second := login()
	if second["state"] != "mfa_required" || fmt.Sprint(second["methods"]) != "[totp backup_code]" {
		t.Fatalf("second login = %v, want mfa_required with [totp backup_code]", second)
	}
	pending = second["session_token"].(string)
	mfa := func(method, code string) answer {
		return ts.do(t, "POST", "/api/v1/login/mfa", jsonType, jsonBody(map[string]string{"method": method, "code": code}), bearer(pending))
	}
	if a := mfa("totp", code); a.Status != 401 || a.JSON(t)["error"] != "invalid_code" {
		t.Errorf("replayed enrollment code = %d %s, want 401 invalid_code", a.Status, a.Body)
	}
	ts.Clock.Add(30 * time.Second)
	code = oathtool(t, secretB32, ts.Clock.Now())
	a = mfa("totp", code)
	done := a.JSON(t)
	if a.Status != 200 || done["state"] != "authenticated" || done["aal"] != 2.0 {
		t.Fatalf("login with TOTP = %d %v", a.Status, done)
	}
	active = done["session_token"].(string)
	if a := mfa("totp", code); a.Status != 401 {
		t.Errorf("pending token after use = %d, want 401", a.Status)
	}

	// The same code cannot open a second pending session either.
	pending = login()["session_token"].(string)
	if a := mfa("totp", code); a.Status != 401 {
		t.Errorf("code reused in another session = %d, want 401", a.Status)
	}
	if a := mfa("backup_code", codes.Codes[0]); a.Status != 200 || a.JSON(t)["backup_codes_left"] != 9.0 || a.JSON(t)["next"] != "secure_account" {
		t.Errorf("backup code login = %d %s, want 200 with 9 left and next secure_account", a.Status, a.Body)
	}
	pending = login()["session_token"].(string)
	if a := mfa("backup_code", codes.Codes[0]); a.Status != 401 {
		t.Errorf("used backup code again = %d, want 401", a.Status)
	}

	// Throttling: after the free failures even the right code waits.
	for range auth.AccountThrottle.Free {
		mfa("totp", "000000")
	}
	ts.Clock.Add(10 * time.Second)
	a = mfa("totp", oathtool(t, secretB32, ts.Clock.Now()))
	if a.Status != http.StatusTooManyRequests || a.Header.Get("Retry-After") == "" {
		t.Errorf("right code while throttled = %d %s, want 429 with Retry-After", a.Status, a.Body)
	}

	// Removing a factor needs a fresh second factor.
	ts.Clock.Add(10 * time.Minute)
	a = ts.do(t, "DELETE", "/api/v1/me/factors/"+id, "", "", bearer(active))
	body := a.JSON(t)
	if a.Status != 401 || body["error"] != "insufficient_user_authentication" ||
		!strings.Contains(a.Header.Get("WWW-Authenticate"), `error="insufficient_user_authentication", max_age=300`) ||
		fmt.Sprint(body["required"]) != "map[max_age:300 methods:[webauthn totp sms backup_code]]" {
		t.Errorf("stale DELETE = %d %v %q", a.Status, body, a.Header.Get("WWW-Authenticate"))
	}
	a = ts.do(t, "POST", "/api/v1/step-up", jsonType, jsonBody(map[string]string{"method": "totp", "code": oathtool(t, secretB32, ts.Clock.Now())}), bearer(active))
	if a.Status != 200 {
		t.Fatalf("step-up = %d %s", a.Status, a.Body)
	}
	if a := ts.do(t, "DELETE", "/api/v1/me/factors/"+id, "", "", bearer(active)); a.Status != http.StatusNoContent {
		t.Errorf("DELETE after step-up = %d %s", a.Status, a.Body)
	}

	events := auditActions(t, ts)
	for _, want := range []string{"factor.enroll_started", "factor.confirmed", "backup_codes.generated", "login.mfa", "backup_code.used", "login.mfa.throttled", "step_up", "factor.removed"} {
		if !strings.Contains(events, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

// auditActions returns the actions of the newest audit events, joined.
func auditActions(t *testing.T, ts *testServer) string {
	t.Helper()
	evs, err := ts.Auth.Store.(*sqlstore.DB).AuditEvents(context.Background(), audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	return strings.Join(actions, " ")
}

// TestRolloutGracePostpone: during a rollout phase's grace period a user
// is asked to enroll and may put it off three times, then no more.
func TestRolloutGracePostpone(t *testing.T) {
	ts := newTestServer(t, nil)
	now := ts.Clock.Now()
	ts.Auth.Policy.Rollout = []auth.Phase{{Roles: []string{"*"}, Methods: []string{auth.MethodTOTP},
		EnforceFrom: now.Add(-24 * time.Hour), Grace: 14 * 24 * time.Hour}}
	for i := range auth.MaxPostponements + 1 {
		a := ts.login(t)
		res := a.JSON(t)
		if res["state"] != "enrollment_required" || res["deadline"] == nil {
			t.Fatalf("login %d = %v, want enrollment_required with a deadline", i, res)
		}
		p := ts.do(t, "POST", "/api/v1/login/postpone", jsonType, "", bearer(res["session_token"].(string)))
		if i < auth.MaxPostponements {
			if p.Status != 200 || p.JSON(t)["state"] != "authenticated" || p.JSON(t)["aal"] != 1.0 {
				t.Errorf("postpone %d = %d %s, want authenticated at AAL1", i, p.Status, p.Body)
			}
			continue
		}
		if p.Status != http.StatusForbidden || res["postpones_left"] != nil {
			t.Errorf("postpone beyond the limit = %d %s (login said %v), want 403", p.Status, p.Body, res)
		}
	}
	// After the grace period, there is nothing left to postpone.
	ts.Clock.Add(14 * 24 * time.Hour)
	res := ts.login(t).JSON(t)
	if res["state"] != "enrollment_required" || !strings.Contains(fmt.Sprint(res["reasons"]), "rollout:") {
		t.Errorf("login after grace = %v, want enrollment_required for the rollout", res)
	}
}
