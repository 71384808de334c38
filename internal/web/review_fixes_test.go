package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

func TestSessionCountsConfirmedFactors(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	// A factor begun but not confirmed does not count.
	if a := ts.do(t, "POST", "/api/v1/me/factors/totp", jsonType, "", bearer(carol.token)); a.Status != http.StatusCreated {
		t.Fatalf("begin a second TOTP = %d %s", a.Status, a.Body)
	}
	tests := []struct {
		name  string
		token string
		want  float64
	}{
		{"alice, no factor", loginToken(t, ts, "alice", alicePassword), 0},
		{"carol, one TOTP and one unconfirmed", carol.token, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(tt.token))
			if a.Status != 200 {
				t.Fatalf("GET /api/v1/session = %d %s", a.Status, a.Body)
			}
			if got := a.JSON(t)["factors_enrolled"]; got != tt.want {
				t.Errorf("factors_enrolled = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCodeEndpointsRefuseWebAuthn: "webauthn" is a wrong request on the
// code endpoints, not a failed attempt: 400 naming method, no throttle
// count, no failed second factor in the audit log.
func TestCodeEndpointsRefuseWebAuthn(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	login := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("carol", adminPassword))
	if login.Status != 200 || login.JSON(t)["state"] != "mfa_required" {
		t.Fatalf("login = %d %s, want mfa_required", login.Status, login.Body)
	}
	pending := login.JSON(t)["session_token"].(string)
	webauthnBody := jsonBody(map[string]string{"method": "webauthn", "code": "123456"})
	tests := []struct {
		path, token, pointsTo string
	}{
		{"/api/v1/login/mfa", pending, "/api/v1/login/webauthn/"},
		{"/api/v1/step-up", carol.token, "/api/v1/step-up/webauthn/"},
	}
	for _, tt := range tests {
		for range auth.AccountThrottle.Free + 1 {
			a := ts.do(t, "POST", tt.path, jsonType, webauthnBody, bearer(tt.token))
			body := a.JSON(t)
			fields, _ := body["fields"].(map[string]any)
			if a.Status != http.StatusBadRequest || body["error"] != "invalid_request" || fields["method"] == nil {
				t.Fatalf("POST %s webauthn = %d %s, want 400 invalid_request naming method", tt.path, a.Status, a.Body)
			}
			if msg := fmt.Sprint(body["message"]); !strings.Contains(msg, tt.pointsTo) {
				t.Errorf("POST %s webauthn message = %q, want it to point to %s", tt.path, msg, tt.pointsTo)
			}
		}
	}
	if got := auditActions(t, ts); strings.Contains(got, "login.mfa") || strings.Contains(got, "step_up") {
		t.Errorf("audit after webauthn on the code endpoints = %s, want no second-factor attempt", got)
	}
	ts.Clock.Add(30 * time.Second)
	a := ts.do(t, "POST", "/api/v1/login/mfa", jsonType, jsonBody(map[string]string{"method": "totp", "code": oathtool(t, carol.secret, ts.Clock.Now())}), bearer(pending))
	if a.Status != 200 {
		t.Errorf("right code after the refused webauthn requests = %d %s, want 200 (not throttled)", a.Status, a.Body)
	}
}

// TestStepUpChecksOrderBeforeCode: a step-up for an unknown order or an
// action that takes no grant is refused before the code is verified, so
// the code still works afterwards.
func TestStepUpChecksOrderBeforeCode(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	id := e.pendingOrder(t, clerk, 600000)
	code := totp.Code(frank.Seed, e.Clock.Now(), totp.DefaultParams)
	tests := []struct {
		name, action, orderID string
		status                int
		field                 string
	}{
		{"unknown order", order.ActionApprove, "ord_unknown", http.StatusNotFound, ""},
		{"action without grants", "order.cancel", id, http.StatusBadRequest, "action"},
		{"order without action", "", id, http.StatusBadRequest, "action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.api(t, "POST", "/api/v1/step-up", frank.Token, map[string]any{"method": "totp", "code": code, "action": tt.action, "order_id": tt.orderID})
			if r.Status != tt.status {
				t.Fatalf("step-up = %d %s, want %d", r.Status, r.Body, tt.status)
			}
			if fields, _ := r.JSON(t)["fields"].(map[string]any); tt.field != "" && fields[tt.field] == nil {
				t.Errorf("step-up = %s, want it to name %s", r.Body, tt.field)
			}
		})
	}
	r := e.api(t, "POST", "/api/v1/step-up", frank.Token, map[string]any{"method": "totp", "code": code, "action": order.ActionApprove, "order_id": id})
	if r.Status != http.StatusOK || r.JSON(t)["step_up_id"] == nil {
		t.Errorf("step-up with the same code for the real order = %d %s, want 200 with step_up_id", r.Status, r.Body)
	}
}

func TestAuditorReadsSources(t *testing.T) {
	e := startOrderEnv(t)
	auditor, _ := e.person(t, "audrey", 0, "auditor")
	tests := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/api/v1/admin/sources", nil, http.StatusOK},
		{"POST", "/api/v1/admin/sources", map[string]string{"channel": "amazon", "name": "amazon-eu"}, http.StatusForbidden},
		{"POST", "/api/v1/admin/sources/" + e.Shopify.ID + "/rotate", nil, http.StatusForbidden},
		{"POST", "/api/v1/admin/sources/" + e.Shopify.ID + "/revoke", nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		if r := e.api(t, tt.method, tt.path, auditor, tt.body); r.Status != tt.want {
			t.Errorf("auditor %s %s = %d %s, want %d", tt.method, tt.path, r.Status, r.Body, tt.want)
		}
	}
	r := e.api(t, "GET", "/api/v1/admin/sources", auditor, nil)
	if list, _ := r.JSON(t)["sources"].([]any); len(list) != 1 {
		t.Errorf("sources for the auditor = %s, want the Shopify source", r.Body)
	}
}

func TestRolesLeavingOutGroupsKeepsThem(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	aliceID := userID(t, ts, "alice")
	tests := []struct {
		name, body string
		want       string
	}{
		{"set", `{"roles": ["clerk"], "groups": ["east"]}`, "[east]"},
		{"left out", `{"roles": ["clerk", "auditor"]}`, "[east]"},
		{"null", `{"roles": ["clerk"], "groups": null}`, "[east]"},
		{"empty", `{"roles": ["clerk"], "groups": []}`, "[]"},
	}
	for _, tt := range tests {
		a := ts.do(t, "PUT", "/api/v1/admin/users/"+aliceID+"/roles", jsonType, tt.body, bearer(carol.token))
		if a.Status != 200 {
			t.Fatalf("%s: PUT roles = %d %s", tt.name, a.Status, a.Body)
		}
		a = ts.do(t, "GET", "/api/v1/admin/users/"+aliceID, "", "", bearer(carol.token))
		if got := fmt.Sprint(a.JSON(t)["groups"]); got != tt.want {
			t.Errorf("%s: groups = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestRoleRequestsShowExpired(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	aliceID := userID(t, ts, "alice")
	a := ts.do(t, "PUT", "/api/v1/admin/users/"+aliceID+"/roles", jsonType, `{"roles": ["approver"]}`, bearer(carol.token))
	if a.Status != http.StatusAccepted {
		t.Fatalf("PUT roles granting approver = %d %s, want 202", a.Status, a.Body)
	}
	ts.Clock.Add(auth.RoleRequestTTL + time.Second)
	audrey := signInWithTOTP(t, ts, "audrey", adminPassword)
	tests := []struct {
		query string
		want  string // statuses, newest first
	}{
		{"", "[expired]"},
		{"?status=pending", "[]"},
		{"?status=expired", "[expired]"},
	}
	for _, tt := range tests {
		a := ts.do(t, "GET", "/api/v1/admin/role-requests"+tt.query, "", "", bearer(audrey.token))
		if a.Status != 200 {
			t.Fatalf("GET role-requests%s = %d %s", tt.query, a.Status, a.Body)
		}
		var got []string
		for _, r := range a.JSON(t)["requests"].([]any) {
			got = append(got, r.(map[string]any)["status"].(string))
		}
		if fmt.Sprint(got) != tt.want && !(got == nil && tt.want == "[]") {
			t.Errorf("GET role-requests%s statuses = %v, want %s", tt.query, got, tt.want)
		}
	}
}

func TestAdminDevicesOfUnknownUser(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	tests := []struct {
		id   string
		want int
	}{
		{userID(t, ts, "alice"), http.StatusOK},
		{"usr_unknown", http.StatusNotFound},
	}
	for _, tt := range tests {
		if a := ts.do(t, "GET", "/api/v1/admin/users/"+tt.id+"/devices", "", "", bearer(carol.token)); a.Status != tt.want {
			t.Errorf("GET devices of %s = %d %s, want %d", tt.id, a.Status, a.Body, tt.want)
		}
	}
}

// TestFailedPasswordChangeKeepsRememberedBrowsers makes the database
// refuse password updates: neither a reset nor a change that fails may
// forget alice's remembered browser; the one that succeeds does.
func TestFailedPasswordChangeKeepsRememberedBrowsers(t *testing.T) {
	ts := consoleServer(t)
	ts.Auth.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{}, ts.Clock), Store: ts.Auth.Store.(auth.RiskStore)}
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	alice := loginToken(t, ts, "alice", alicePassword)
	aliceID := userID(t, ts, "alice")
	ctx := context.Background()
	ds, err := ts.Auth.Devices(ctx, aliceID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("alice's devices = %v, %v; want one", ds, err)
	}
	if err := ts.Auth.Store.(auth.RiskStore).RememberDevice(ctx, aliceID, ds[0].ID, ts.Clock.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	remembered := func() bool {
		t.Helper()
		a := ts.do(t, "GET", "/api/v1/admin/users/"+aliceID+"/devices", "", "", bearer(carol.token))
		ds, _ := a.JSON(t)["devices"].([]any)
		if len(ds) != 1 {
			t.Fatalf("devices = %d %s, want one", a.Status, a.Body)
		}
		return ds[0].(map[string]any)["remembered_until"] != nil
	}
	a := ts.do(t, "POST", "/api/v1/admin/users/"+aliceID+"/password-reset", jsonType, "", bearer(carol.token))
	link, ok := strings.CutPrefix(fmt.Sprint(a.JSON(t)["url"]), consoleURL+"/password-resets/")
	if a.Status != 201 || !ok {
		t.Fatalf("password reset = %d %s", a.Status, a.Body)
	}

	db := ts.Auth.Store.(*sqlstore.DB).SQL()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON users
		BEGIN SELECT RAISE(ABORT, 'password updates refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	const fresh = "alice's second passphrase"
	accept := func() answer {
		return ts.do(t, "POST", "/api/v1/password-resets/"+link+"/accept", jsonType, jsonBody(map[string]string{"password": fresh}))
	}
	if a := accept(); a.Status != http.StatusInternalServerError {
		t.Errorf("accept with password updates refused = %d %s, want 500", a.Status, a.Body)
	}
	if !remembered() {
		t.Errorf("a failed password reset forgot the remembered browser")
	}
	a = ts.do(t, "POST", "/api/v1/me/password", jsonType, jsonBody(map[string]string{"current_password": alicePassword, "new_password": fresh}), bearer(alice))
	if a.Status != http.StatusInternalServerError {
		t.Errorf("password change with updates refused = %d %s, want 500", a.Status, a.Body)
	}
	if !remembered() {
		t.Errorf("a failed password change forgot the remembered browser")
	}

	if _, err := db.ExecContext(ctx, `DROP TRIGGER refuse_password`); err != nil {
		t.Fatal(err)
	}
	if a := accept(); a.Status != 200 {
		t.Fatalf("accept = %d %s", a.Status, a.Body)
	}
	if remembered() {
		t.Errorf("the browser is still remembered after the password reset")
	}
}
