package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/web"
)

// TestSecurityEvents raises one of each kind the API can provoke — a
// replayed TOTP code, a throttled password guess, a forward-auth denial no
// sign-in would cure, a compromised sign-in — and reads them back from
// the event list, the incident figure, the dashboard and /metrics.
func TestSecurityEvents(t *testing.T) {
	ts := newAdminServer(t)
	ts.ForwardAuth = forwardRules
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	MustCreateUser(t, ts.Auth, "bob", alicePassword)
	clerk := loginToken(t, ts, "bob", alicePassword)

	// The code that confirmed the enrollment signs in once more: refused
	// as a replay, with the same answer as a wrong code.
	code := oathtool(t, carol.secret, ts.Clock.Now())
	for _, c := range []string{code, "000000"} {
		pending := loginToken(t, ts, "carol", adminPassword)
		a := ts.do(t, "POST", "/api/v1/login/mfa", jsonType, jsonBody(map[string]string{"method": "totp", "code": c}), bearer(pending))
		if a.Status != http.StatusUnauthorized || a.JSON(t)["error"] != ordergate.ECODE {
			t.Fatalf("second factor %s = %d %s, want 401 %s", c, a.Status, a.Body, ordergate.ECODE)
		}
	}
	// A backup code signs in once; the second time it is a replay.
	a := ts.do(t, "POST", "/api/v1/me/backup-codes", jsonType, "", bearer(carol.token))
	var backup struct{ Codes []string }
	if err := json.Unmarshal(a.Body, &backup); err != nil || len(backup.Codes) == 0 {
		t.Fatalf("backup codes = %d %s", a.Status, a.Body)
	}
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		pending := loginToken(t, ts, "carol", adminPassword)
		a := ts.do(t, "POST", "/api/v1/login/mfa", jsonType, jsonBody(map[string]string{"method": "backup_code", "code": backup.Codes[0]}), bearer(pending))
		if a.Status != want {
			t.Fatalf("backup code, use %d = %d %s, want %d", i+1, a.Status, a.Body, want)
		}
	}
	// Password guesses for alice until the throttle answers.
	throttled := false
	for range 10 {
		if a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", "not the password at all")); a.Status == http.StatusTooManyRequests {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("ten wrong passwords were never throttled")
	}
	// Forward auth: a deny rule is an event, a missing session is not.
	for _, h := range [][]string{
		{"X-Original-URL: https://legacy.example.com/closed/x", bearer(carol.token)},
		{"X-Original-URL: https://legacy.example.com/report"},
	} {
		if a := ts.do(t, "GET", "/auth/verify", "", "", h...); a.Status != http.StatusUnauthorized {
			t.Fatalf("verify %v = %d, want 401", h, a.Status)
		}
	}

	list := func() map[string]any {
		t.Helper()
		a := ts.do(t, "GET", "/api/v1/admin/security-events", "", "", bearer(carol.token))
		if a.Status != http.StatusOK {
			t.Fatalf("security events = %d %s", a.Status, a.Body)
		}
		return a.JSON(t)
	}
	body := list()
	var kinds []string
	for _, e := range body["events"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	slices.Sort(kinds)
	if want := []string{auth.SecurityCodeReplayed, auth.SecurityCodeReplayed, auth.SecurityForwardAuthDenied, auth.SecurityLoginThrottled}; !slices.Equal(kinds, want) {
		t.Errorf("security event kinds = %v, want %v", kinds, want)
	}
	if body["incidents_this_quarter"] != 0.0 || body["target"] != "< 1 per quarter" {
		t.Errorf("incidents = %v target %v, want 0 and < 1 per quarter", body["incidents_this_quarter"], body["target"])
	}

	// A sign-in reported as compromised is an incident; the user's
	// sessions end.
	bob := userID(t, ts, "bob")
	if a := ts.do(t, "POST", "/api/v1/admin/users/"+bob+"/compromised", jsonType, jsonBody(map[string]string{"note": "phished"}), bearer(carol.token)); a.Status != http.StatusNoContent {
		t.Fatalf("report compromise = %d %s", a.Status, a.Body)
	}
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(clerk)); a.Status != http.StatusUnauthorized {
		t.Errorf("compromised user's session = %d, want 401", a.Status)
	}
	if got := list()["incidents_this_quarter"]; got != 1.0 {
		t.Errorf("incidents after the report = %v, want 1", got)
	}
	d := ts.do(t, "GET", "/api/v1/admin/dashboard", "", "", bearer(carol.token)).JSON(t)
	if fig, _ := d["incidents_this_quarter"].(map[string]any); fig["count"] != 1.0 || fig["target"] != auth.IncidentTarget {
		t.Errorf("dashboard incidents_this_quarter = %v, want count 1 against the target", d["incidents_this_quarter"])
	}

	m := string(ts.do(t, "GET", "/metrics", "", "").Body)
	for kind, n := range map[string]int{auth.SecurityCodeReplayed: 2, auth.SecurityLoginThrottled: 1, auth.SecurityForwardAuthDenied: 1, auth.SecurityCompromised: 1} {
		if want := fmt.Sprintf(`ordergate_security_events_total{kind=%q} %d`, kind, n); !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	tests := []struct {
		name, path, token string
		want              int
	}{
		{"clerk", "/api/v1/admin/security-events", clerk, http.StatusUnauthorized}, // revoked above
		{"bad since", "/api/v1/admin/security-events?since=yesterday", carol.token, http.StatusBadRequest},
		{"since a date", "/api/v1/admin/security-events?since=2020-01-01&limit=2", carol.token, http.StatusOK},
		{"bad limit", "/api/v1/admin/security-events?limit=0", carol.token, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if a := ts.do(t, "GET", tt.path, "", "", bearer(tt.token)); a.Status != tt.want {
			t.Errorf("%s: GET %s = %d %s, want %d", tt.name, tt.path, a.Status, a.Body, tt.want)
		}
	}
	if a = ts.do(t, "GET", "/api/v1/admin/security-events?limit=2", "", "", bearer(carol.token)); len(a.JSON(t)["events"].([]any)) != 2 {
		t.Errorf("limit=2 gave %s", a.Body)
	}
}

// TestApproveUnusualAmount: an approval far above what this approver
// usually signs needs a fresh second factor even below the rules'
// threshold, and the approval's audit event keeps the risk reasons.
func TestApproveUnusualAmount(t *testing.T) {
	clock := newFakeClock()
	db := MustOpenDB(t, clock)
	keys := MustOpenKeyring(t)
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, keys, clock, log)
	svc.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{}, clock), Store: db}
	srv := web.NewServer(svc, db, web.NewMetrics(), log)
	orders := order.NewService(db, clock, defaultRules)
	orders.Risk = svc
	srv.EnableOrders(intake.NewService(db, keys, clock, log), orders)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &orderEnv{URL: hs.URL, DB: db, Clock: clock}

	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	stale, staleID := e.person(t, "dave", 10*time.Minute, "approver")
	// dave's habit: five approvals of about 100.00 USD.
	for _, total := range []int64{9000, 10000, 11000, 10000, 12000} {
		ev := audit.Event{At: clock.Now(), Action: order.EventApproved, Outcome: audit.OutcomeOK,
			Actor: ordergate.Actor{Kind: ordergate.ActorUser, ID: staleID, Name: "dave"}, OrderID: "ord_past",
			Data: map[string]any{"total": total, "currency": "USD"}}
		if err := db.AppendAudit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	submit := func(unitPrice int64) string {
		t.Helper()
		r := e.api(t, "POST", "/api/v1/orders", clerk, manualOrder(unitPrice))
		id := r.JSON(t)["id"].(string)
		if r := e.api(t, "PATCH", "/api/v1/orders/"+id, clerk, map[string]any{"status": "pending_approval"}); r.Status != http.StatusOK {
			t.Fatalf("submit = %d %s", r.Status, r.Body)
		}
		return id
	}

	usual, unusual := submit(5000), submit(200000) // 100.00 and 4,000.00 USD, both below the 10,000.00 rule
	tests := []struct {
		name, id, token string
		want            int
		wantReasons     bool
	}{
		{"usual amount, stale factor", usual, stale, http.StatusOK, false},
		{"unusual amount, stale factor", unusual, stale, http.StatusUnauthorized, true},
	}
	for _, tt := range tests {
		r := e.api(t, "POST", "/api/v1/orders/"+tt.id+"/approve", tt.token, nil)
		if r.Status != tt.want {
			t.Fatalf("%s: approve = %d %s, want %d", tt.name, r.Status, r.Body, tt.want)
		}
		if got := strings.Contains(string(r.Body), risk.ReasonUnusualAmount); got != tt.wantReasons {
			t.Errorf("%s: answer %s names %s: %v, want %v", tt.name, r.Body, risk.ReasonUnusualAmount, got, tt.wantReasons)
		}
	}
	if r := e.api(t, "POST", "/api/v1/orders/"+unusual+"/approve", stale, nil); r.JSON(t)["error"] != ordergate.ESTEPUP {
		t.Errorf("unusual amount error = %v, want %s", r.JSON(t)["error"], ordergate.ESTEPUP)
	}

	// The same approver, after a fresh second factor.
	sess, _, err := svc.Authenticate(context.Background(), stale)
	if err != nil {
		t.Fatal(err)
	}
	sess.Auth.FactorTimes = map[string]time.Time{"pwd": clock.Now(), "otp": clock.Now()}
	if err := db.UpdateSessionAuth(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	if r := e.api(t, "POST", "/api/v1/orders/"+unusual+"/approve", stale, nil); r.Status != http.StatusOK {
		t.Fatalf("approve after a fresh factor = %d %s", r.Status, r.Body)
	}
	evs, err := db.AuditEvents(context.Background(), audit.Filter{OrderID: unusual, Action: order.EventApproved})
	if err != nil || len(evs) != 1 {
		t.Fatalf("approval events = %v, %v", evs, err)
	}
	var evidence struct {
		RiskReasons []string `json:"risk_reasons"`
	}
	b, _ := json.Marshal(evs[0].Data["step_up"])
	if err := json.Unmarshal(b, &evidence); err != nil || !slices.Contains(evidence.RiskReasons, risk.ReasonUnusualAmount) {
		t.Errorf("approval evidence = %s, want risk_reasons with %s", b, risk.ReasonUnusualAmount)
	}
}
