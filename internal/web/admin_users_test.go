package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/web"
)

const consoleURL = "https://ordergate.example"

// consoleServer is a test server with the audit chain and a public URL,
// the clerk alice, the admins carol and dave and the auditor audrey; the
// policy asks admins, approvers and auditors for a second factor.
func consoleServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, func(s *web.Server) {
		s.Auth.Policy.Available = []string{auth.MethodTOTP, auth.MethodBackupCode}
		s.Auth.Policy.MandatoryRoles = []string{auth.RoleAdmin, auth.RoleApprover, auth.RoleAuditor}
		chain, err := audit.NewChain(chainKey)
		if err != nil {
			t.Fatal(err)
		}
		s.Chain, s.PublicURL = chain, consoleURL
	})
	for _, u := range []struct{ name, role string }{{"carol", auth.RoleAdmin}, {"dave", auth.RoleAdmin}, {"audrey", auth.RoleAuditor}} {
		if _, err := ts.Auth.CreateUser(context.Background(), auth.UserActor(&auth.User{}, nil),
			auth.NewUser{Username: u.name, Password: adminPassword, Roles: []string{u.role}}); err != nil {
			t.Fatal(err)
		}
	}
	return ts
}

// totpUser is a signed-in user with a TOTP factor.
type totpUser struct {
	token, secret string
}

// signInWithTOTP signs username in and, on its enrollment-only session,
// enrolls and confirms a TOTP factor, returning the AAL2 token.
func signInWithTOTP(t *testing.T, ts *testServer, username, password string) totpUser {
	t.Helper()
	a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody(username, password))
	if a.Status != 200 || a.JSON(t)["state"] != "enrollment_required" {
		t.Fatalf("login %s = %d %s, want enrollment_required", username, a.Status, a.Body)
	}
	return enrollTOTP(t, ts, a.JSON(t)["session_token"].(string))
}

func enrollTOTP(t *testing.T, ts *testServer, token string) totpUser {
	t.Helper()
	a := ts.do(t, "POST", "/api/v1/me/factors/totp", jsonType, "", bearer(token))
	if a.Status != http.StatusCreated {
		t.Fatalf("begin TOTP = %d %s", a.Status, a.Body)
	}
	enr := a.JSON(t)
	secret := enr["secret"].(string)
	code := oathtool(t, secret, ts.Clock.Now())
	a = ts.do(t, "POST", "/api/v1/me/factors/totp/"+enr["id"].(string)+"/confirm", jsonType, jsonBody(map[string]string{"code": code}), bearer(token))
	if a.Status != 200 || a.JSON(t)["aal"] != 2.0 {
		t.Fatalf("confirm TOTP = %d %s, want AAL2", a.Status, a.Body)
	}
	return totpUser{token: a.JSON(t)["session_token"].(string), secret: secret}
}

// loginToken signs username in with a password only and returns the token.
func loginToken(t *testing.T, ts *testServer, username, password string) string {
	t.Helper()
	a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody(username, password))
	if a.Status != 200 {
		t.Fatalf("login %s = %d %s", username, a.Status, a.Body)
	}
	return a.JSON(t)["session_token"].(string)
}

func TestAdminUserList(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	tests := []struct {
		query  string
		status int
		want   string // usernames, in order
		next   string
	}{
		{"", 200, "alice audrey carol dave", ""},
		{"?role=admin", 200, "carol dave", ""},
		{"?mfa=enrolled", 200, "carol", ""},
		{"?mfa=none&role=admin", 200, "dave", ""},
		{"?q=AR", 200, "carol", ""},
		{"?disabled=true", 200, "", ""},
		{"?limit=2", 200, "alice audrey", "audrey"},
		{"?limit=2&cursor=audrey", 200, "carol dave", ""},
		{"?mfa=maybe", 400, "", ""},
		{"?role=wizard", 400, "", ""},
		{"?disabled=perhaps", 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := ts.do(t, "GET", "/api/v1/admin/users"+tt.query, "", "", bearer(carol.token))
			if a.Status != tt.status {
				t.Fatalf("GET users%s = %d %s, want %d", tt.query, a.Status, a.Body, tt.status)
			}
			if tt.status != 200 {
				return
			}
			body := a.JSON(t)
			var names []string
			for _, u := range body["users"].([]any) {
				names = append(names, u.(map[string]any)["username"].(string))
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("users = %q, want %q", got, tt.want)
			}
			if got := body["next"]; got != tt.next {
				t.Errorf("next = %v, want %q", got, tt.next)
			}
		})
	}
	a := ts.do(t, "GET", "/api/v1/admin/users?mfa=enrolled", "", "", bearer(carol.token))
	row := a.JSON(t)["users"].([]any)[0].(map[string]any)
	if row["mfa_enrolled"] != true || fmt.Sprint(row["factors"]) != "[totp]" || fmt.Sprint(row["roles"]) != "[admin]" ||
		row["disabled"] != false || row["last_login_at"] == nil || row["id"] == "" {
		t.Errorf("carol's row = %v", row)
	}

	a = ts.do(t, "GET", "/api/v1/admin/users/"+userID(t, ts, "carol"), "", "", bearer(carol.token))
	d := a.JSON(t)
	if a.Status != 200 || len(d["factors"].([]any)) != 1 || len(d["sessions"].([]any)) != 1 || len(d["events"].([]any)) == 0 {
		t.Fatalf("user detail = %d %s", a.Status, a.Body)
	}
	sess := d["sessions"].([]any)[0].(map[string]any)
	if sess["aal"] != 2.0 || sess["client_ip"] != "127.0.0.1" || sess["user_agent"] == "" || strings.Contains(string(a.Body), carol.token) {
		t.Errorf("session = %v (and the token must not show)", sess)
	}
	if a := ts.do(t, "GET", "/api/v1/admin/users/usr_nobody", "", "", bearer(carol.token)); a.Status != 404 {
		t.Errorf("unknown user = %d, want 404", a.Status)
	}
}

func TestAdminAccess(t *testing.T) {
	ts := consoleServer(t)
	audrey := signInWithTOTP(t, ts, "audrey", adminPassword)
	alice := loginToken(t, ts, "alice", alicePassword)
	aliceID := userID(t, ts, "alice")
	tests := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"auditor reads users", audrey.token, "GET", "/api/v1/admin/users", "", 200, ""},
		{"auditor reads audit", audrey.token, "GET", "/api/v1/admin/audit", "", 200, ""},
		{"auditor reads policy", audrey.token, "GET", "/api/v1/admin/policy", "", 200, ""},
		{"auditor reads dashboard", audrey.token, "GET", "/api/v1/admin/dashboard", "", 200, ""},
		{"auditor verifies", audrey.token, "POST", "/api/v1/admin/audit/verify", "", 200, ""},
		{"auditor may not disable", audrey.token, "POST", "/api/v1/admin/users/" + aliceID + "/disable", "", 403, "forbidden"},
		{"auditor may not invite", audrey.token, "POST", "/api/v1/admin/invitations", `{"username":"x","roles":["clerk"]}`, 403, "forbidden"},
		{"auditor may not change roles", audrey.token, "PUT", "/api/v1/admin/users/" + aliceID + "/roles", `{"roles":["auditor"]}`, 403, "forbidden"},
		{"clerk may not read", alice, "GET", "/api/v1/admin/users", "", 403, "forbidden"},
		{"no session", "", "GET", "/api/v1/admin/users", "", 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.token != "" {
				hdr = append(hdr, bearer(tt.token))
			}
			ct := ""
			if tt.body != "" || tt.method != "GET" {
				ct = jsonType
			}
			a := ts.do(t, tt.method, tt.path, ct, tt.body, hdr...)
			if a.Status != tt.status || (tt.code != "" && a.JSON(t)["error"] != tt.code) {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, a.Status, a.Body, tt.status, tt.code)
			}
		})
	}
	if got := auditActions(t, ts); !strings.Contains(got, "admin.access") {
		t.Errorf("audit = %s, want the refused admin.access recorded", got)
	}

	// An administrator signed in with a password alone gets the step-up answer.
	ts1 := newTestServer(t, func(s *web.Server) { s.Auth.Policy.MandatoryRoles = nil })
	if _, err := ts1.Auth.CreateUser(context.Background(), auth.UserActor(&auth.User{}, nil),
		auth.NewUser{Username: "erin", Password: adminPassword, Roles: []string{auth.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	erin := loginToken(t, ts1, "erin", adminPassword)
	a := ts1.do(t, "GET", "/api/v1/admin/users", "", "", bearer(erin))
	if a.Status != 401 || a.JSON(t)["error"] != "insufficient_user_authentication" || !strings.Contains(a.Header.Get("WWW-Authenticate"), "insufficient_user_authentication") {
		t.Errorf("AAL1 admin = %d %s %q, want 401 insufficient_user_authentication", a.Status, a.Body, a.Header.Get("WWW-Authenticate"))
	}
}

func TestAdminDisableRevokesSessions(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	alice := loginToken(t, ts, "alice", alicePassword)
	aliceID := userID(t, ts, "alice")
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(alice)); a.Status != 200 {
		t.Fatalf("alice's session = %d", a.Status)
	}
	a := ts.do(t, "POST", "/api/v1/admin/users/"+aliceID+"/disable", jsonType, "", bearer(carol.token))
	if a.Status != 200 || a.JSON(t)["disabled"] != true {
		t.Fatalf("disable = %d %s", a.Status, a.Body)
	}
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(alice)); a.Status != 401 {
		t.Errorf("alice's session after disable = %d, want 401", a.Status)
	}
	if a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", alicePassword)); a.Status != 401 {
		t.Errorf("disabled login = %d, want 401", a.Status)
	}
	if a := ts.do(t, "GET", "/api/v1/admin/users?disabled=true", "", "", bearer(carol.token)); !strings.Contains(string(a.Body), `"alice"`) {
		t.Errorf("disabled list = %s, want alice", a.Body)
	}
	if a := ts.do(t, "POST", "/api/v1/admin/users/"+userID(t, ts, "carol")+"/disable", jsonType, "", bearer(carol.token)); a.Status != 403 {
		t.Errorf("disabling oneself = %d, want 403", a.Status)
	}
	a = ts.do(t, "POST", "/api/v1/admin/users/"+aliceID+"/enable", jsonType, "", bearer(carol.token))
	if a.Status != 200 || a.JSON(t)["disabled"] != false {
		t.Fatalf("enable = %d %s", a.Status, a.Body)
	}
	alice = loginToken(t, ts, "alice", alicePassword)
	second := loginToken(t, ts, "alice", alicePassword)
	if a := ts.do(t, "POST", "/api/v1/admin/users/"+aliceID+"/sessions/revoke", jsonType, "", bearer(carol.token)); a.Status != 204 {
		t.Fatalf("revoke = %d %s, want 204", a.Status, a.Body)
	}
	for _, tok := range []string{alice, second} {
		if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(tok)); a.Status != 401 {
			t.Errorf("session after revoke = %d, want 401", a.Status)
		}
	}
	got := auditActions(t, ts)
	for _, want := range []string{"sessions.revoked", "user.enabled", "user.disabled"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit = %s, want %s", got, want)
		}
	}
}

func TestAdminRoleGrantFourEyes(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	dave := signInWithTOTP(t, ts, "dave", adminPassword)
	aliceID := userID(t, ts, "alice")
	roles := func() string {
		u, err := ts.Auth.Store.UserByID(context.Background(), aliceID)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(u.Roles, ",") + "|" + strings.Join(u.Groups, ",")
	}

	// A change without a privileged role applies at once.
	a := ts.do(t, "PUT", "/api/v1/admin/users/"+aliceID+"/roles", jsonType,
		jsonBody(map[string]any{"roles": []string{"clerk", "auditor"}, "groups": []string{"Sales", "emea"}}), bearer(carol.token))
	if a.Status != 200 || a.JSON(t)["status"] != "applied" || roles() != "auditor,clerk|emea,sales" {
		t.Fatalf("plain change = %d %s, roles %s", a.Status, a.Body, roles())
	}
	// Granting approver waits for a second administrator.
	a = ts.do(t, "PUT", "/api/v1/admin/users/"+aliceID+"/roles", jsonType,
		jsonBody(map[string]any{"roles": []string{"clerk", "approver"}, "groups": []string{"sales"}}), bearer(carol.token))
	if a.Status != http.StatusAccepted || a.JSON(t)["status"] != "pending_approval" {
		t.Fatalf("grant approver = %d %s, want 202 pending_approval", a.Status, a.Body)
	}
	reqID := a.JSON(t)["request"].(map[string]any)["id"].(string)
	if got := roles(); got != "auditor,clerk|emea,sales" {
		t.Errorf("roles before approval = %s", got)
	}
	for _, tt := range []struct {
		name, token, id string
		status          int
		reason          string
	}{
		{"own request", carol.token, reqID, 403, "own_request"},
		{"unknown request", dave.token, "rrq_nope", 404, ""},
	} {
		a := ts.do(t, "POST", "/api/v1/admin/role-requests/"+tt.id+"/approve", jsonType, "", bearer(tt.token))
		if a.Status != tt.status || (tt.reason != "" && a.JSON(t)["reason"] != tt.reason) {
			t.Errorf("%s: approve = %d %s, want %d %s", tt.name, a.Status, a.Body, tt.status, tt.reason)
		}
	}
	// dave's factor is too old now: step up, then approve.
	ts.Clock.Add(6 * time.Minute)
	a = ts.do(t, "POST", "/api/v1/admin/role-requests/"+reqID+"/approve", jsonType, "", bearer(dave.token))
	if a.Status != 401 || a.JSON(t)["error"] != "insufficient_user_authentication" {
		t.Fatalf("stale approve = %d %s, want 401 step-up", a.Status, a.Body)
	}
	code := oathtool(t, dave.secret, ts.Clock.Now())
	if a := ts.do(t, "POST", "/api/v1/step-up", jsonType, jsonBody(map[string]string{"method": "totp", "code": code, "action": "roles.approve"}), bearer(dave.token)); a.Status != 200 {
		t.Fatalf("step-up = %d %s", a.Status, a.Body)
	}
	a = ts.do(t, "POST", "/api/v1/admin/role-requests/"+reqID+"/approve", jsonType, "", bearer(dave.token))
	if a.Status != 200 || a.JSON(t)["status"] != "approved" {
		t.Fatalf("approve = %d %s", a.Status, a.Body)
	}
	if got := roles(); got != "approver,clerk|sales" {
		t.Errorf("roles after approval = %s, want approver,clerk|sales", got)
	}
	if a := ts.do(t, "POST", "/api/v1/admin/role-requests/"+reqID+"/approve", jsonType, "", bearer(dave.token)); a.Status != 403 {
		t.Errorf("approving twice = %d, want 403", a.Status)
	}
	if a := ts.do(t, "PUT", "/api/v1/admin/users/"+userID(t, ts, "carol")+"/roles", jsonType, `{"roles":["admin","approver"]}`, bearer(carol.token)); a.Status != 403 {
		t.Errorf("changing one's own roles = %d, want 403", a.Status)
	}
	if a := ts.do(t, "PUT", "/api/v1/admin/users/"+aliceID+"/roles", jsonType, `{"roles":["wizard"]}`, bearer(carol.token)); a.Status != 400 {
		t.Errorf("unknown role = %d, want 400", a.Status)
	}
	got := auditActions(t, ts)
	for _, want := range []string{"roles.changed step_up roles.approve roles.change_requested roles.changed"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit = %s, want %s", got, want)
		}
	}
}

func TestInvitationAcceptThenEnroll(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"taken username", map[string]any{"username": "alice", "roles": []string{"clerk"}}, 422, "username"},
		{"bad username", map[string]any{"username": "Bad Name!", "roles": []string{"clerk"}}, 422, "username"},
		{"bad email", map[string]any{"username": "bob", "roles": []string{"clerk"}, "email": "not-an-address"}, 422, "email"},
		{"bad phone", map[string]any{"username": "bob", "roles": []string{"clerk"}, "phone": "12"}, 422, "phone"},
		{"no role", map[string]any{"username": "bob", "roles": []string{}}, 400, "roles"},
	} {
		a := ts.do(t, "POST", "/api/v1/admin/invitations", jsonType, jsonBody(tt.body), bearer(carol.token))
		fields, _ := a.JSON(t)["fields"].(map[string]any)
		if a.Status != tt.status || fields[tt.field] == nil {
			t.Errorf("%s: invite = %d %s, want %d naming %s", tt.name, a.Status, a.Body, tt.status, tt.field)
		}
	}
	a := ts.do(t, "POST", "/api/v1/admin/invitations", jsonType,
		jsonBody(map[string]any{"username": "bob", "roles": []string{"clerk"}, "email": "bob@example.com", "phone": "+1 415 555 0100"}), bearer(carol.token))
	if a.Status != 201 {
		t.Fatalf("invite = %d %s", a.Status, a.Body)
	}
	inv := a.JSON(t)
	url, _ := inv["url"].(string)
	token, ok := strings.CutPrefix(url, consoleURL+"/invitations/")
	if !ok || len(token) < 40 || inv["id"] == "" || inv["expires_at"] == "" {
		t.Fatalf("invitation = %v", inv)
	}
	if want := ts.Clock.Now().Add(72 * time.Hour).Format(time.RFC3339); inv["expires_at"] != want {
		t.Errorf("expires_at = %v, want %s", inv["expires_at"], want)
	}
	if a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("bob", alicePassword)); a.Status != 401 {
		t.Errorf("invited user signing in before accepting = %d, want 401", a.Status)
	}
	accept := func(tok, pw string) answer {
		return ts.do(t, "POST", "/api/v1/invitations/"+tok+"/accept", jsonType, jsonBody(map[string]string{"password": pw}))
	}
	if a := accept(token, "password"); a.Status != 400 || a.JSON(t)["fields"].(map[string]any)["password"] == nil {
		t.Errorf("weak password = %d %s, want 400 naming password", a.Status, a.Body)
	}
	if a := accept("not-a-token", "a fine new passphrase"); a.Status != 404 || a.JSON(t)["reason"] != "unknown" {
		t.Errorf("unknown token = %d %s, want 404 unknown", a.Status, a.Body)
	}
	a = accept(token, "bob's fine new passphrase")
	res := a.JSON(t)
	if a.Status != 200 || res["state"] != "enrollment_required" || res["session_token"] == nil {
		t.Fatalf("accept = %d %s, want enrollment_required with a session", a.Status, a.Body)
	}
	if a := accept(token, "bob's fine new passphrase"); a.Status != 404 || a.JSON(t)["reason"] != "used" {
		t.Errorf("second accept = %d %s, want 404 used", a.Status, a.Body)
	}
	bob := enrollTOTP(t, ts, res["session_token"].(string))
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(bob.token)); a.Status != 200 || a.JSON(t)["aal"] != 2.0 {
		t.Errorf("bob's session after enrolling = %d %s", a.Status, a.Body)
	}

	// Privileged roles in an invitation wait for a second administrator.
	a = ts.do(t, "POST", "/api/v1/admin/invitations", jsonType, jsonBody(map[string]any{"username": "exec", "roles": []string{"approver"}}), bearer(carol.token))
	if a.Status != 201 || a.JSON(t)["role_request"] == nil {
		t.Fatalf("privileged invite = %d %s, want a role request", a.Status, a.Body)
	}
	if u, _ := ts.Auth.Store.UserByUsername(context.Background(), "exec"); u == nil || strings.Join(u.Roles, ",") != "clerk" {
		t.Errorf("exec's roles before approval = %v, want clerk", u)
	}
	expiring, _ := strings.CutPrefix(a.JSON(t)["url"].(string), consoleURL+"/invitations/")
	ts.Clock.Add(72*time.Hour + time.Second)
	if a := accept(expiring, "a fine new passphrase"); a.Status != 404 || a.JSON(t)["reason"] != "expired" {
		t.Errorf("expired invitation = %d %s, want 404 expired", a.Status, a.Body)
	}
	if got := auditActions(t, ts); !strings.Contains(got, "invitation.accepted") || !strings.Contains(got, "user.invited") {
		t.Errorf("audit = %s", got)
	}
}

func TestPasswordResetAndChange(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	aliceID := userID(t, ts, "alice")
	old := loginToken(t, ts, "alice", alicePassword)

	a := ts.do(t, "POST", "/api/v1/admin/users/"+aliceID+"/password-reset", jsonType, "", bearer(carol.token))
	if a.Status != 201 {
		t.Fatalf("password reset = %d %s", a.Status, a.Body)
	}
	if strings.Contains(string(a.Body), "password\"") {
		t.Errorf("reset answer shows a password: %s", a.Body)
	}
	token, ok := strings.CutPrefix(a.JSON(t)["url"].(string), consoleURL+"/password-resets/")
	if !ok {
		t.Fatalf("reset url = %v", a.JSON(t)["url"])
	}
	accept := func(pw string) answer {
		return ts.do(t, "POST", "/api/v1/password-resets/"+token+"/accept", jsonType, jsonBody(map[string]string{"password": pw}))
	}
	const fresh = "alice's second passphrase"
	if a := accept(fresh); a.Status != 200 || a.JSON(t)["state"] != "password_changed" {
		t.Fatalf("accept reset = %d %s", a.Status, a.Body)
	}
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(old)); a.Status != 401 {
		t.Errorf("old session after reset = %d, want 401", a.Status)
	}
	if a := accept("yet another passphrase"); a.Status != 404 {
		t.Errorf("reset link reused = %d, want 404", a.Status)
	}
	if a := ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", alicePassword)); a.Status != 401 {
		t.Errorf("old password = %d, want 401", a.Status)
	}

	// alice changes her password herself; her other session ends.
	current := loginToken(t, ts, "alice", fresh)
	other := loginToken(t, ts, "alice", fresh)
	change := func(token, cur, next string) answer {
		return ts.do(t, "POST", "/api/v1/me/password", jsonType,
			jsonBody(map[string]string{"current_password": cur, "new_password": next}), bearer(token))
	}
	for _, tt := range []struct {
		name, cur, next string
		status          int
		field           string
	}{
		{"wrong current", "not it at all", "a third good passphrase", 401, "current_password"},
		{"weak new", fresh, "12345678", 400, "new_password"},
		{"same", fresh, fresh, 400, "new_password"},
	} {
		a := change(current, tt.cur, tt.next)
		fields, _ := a.JSON(t)["fields"].(map[string]any)
		if a.Status != tt.status || fields[tt.field] == nil {
			t.Errorf("%s: change = %d %s, want %d naming %s", tt.name, a.Status, a.Body, tt.status, tt.field)
		}
	}
	if a := change(current, fresh, "a third good passphrase"); a.Status != 204 {
		t.Fatalf("change = %d %s", a.Status, a.Body)
	}
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(current)); a.Status != 200 {
		t.Errorf("current session after change = %d, want 200", a.Status)
	}
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(other)); a.Status != 401 {
		t.Errorf("other session after change = %d, want 401", a.Status)
	}
	// With a second factor, the change needs a fresh one.
	ts.Clock.Add(6 * time.Minute)
	if a := change(carol.token, adminPassword, "carol's new passphrase"); a.Status != 401 || a.JSON(t)["error"] != "insufficient_user_authentication" {
		t.Errorf("stale second factor = %d %s, want 401 step-up", a.Status, a.Body)
	}
	if got := auditActions(t, ts); !strings.Contains(got, "password.changed") || !strings.Contains(got, "password.reset password.reset_issued") {
		t.Errorf("audit = %s", got)
	}
}

func TestAdminAuditBrowseAndVerify(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", "wrong password here"))
	get := func(q string) map[string]any {
		a := ts.do(t, "GET", "/api/v1/admin/audit"+q, "", "", bearer(carol.token))
		if a.Status != 200 {
			t.Fatalf("GET audit%s = %d %s", q, a.Status, a.Body)
		}
		return a.JSON(t)
	}
	all := get("")["events"].([]any)
	if len(all) < 5 {
		t.Fatalf("events = %d, want several", len(all))
	}
	for _, tt := range []struct {
		query string
		check func(e map[string]any) bool
	}{
		{"?action=login", func(e map[string]any) bool { return e["action"] == "login" }},
		{"?actor=carol", func(e map[string]any) bool { return e["actor"].(map[string]any)["name"] == "carol" }},
		{"?since=2026-11-27", func(e map[string]any) bool { return true }},
	} {
		evs := get(tt.query)["events"].([]any)
		if len(evs) == 0 {
			t.Errorf("%s: no events", tt.query)
		}
		for _, e := range evs {
			if !tt.check(e.(map[string]any)) {
				t.Errorf("%s: event %v does not match", tt.query, e)
			}
		}
	}
	page := get("?limit=2")
	next, _ := page["next"].(string)
	if len(page["events"].([]any)) != 2 || next == "" {
		t.Fatalf("first page = %v", page)
	}
	second := get("?limit=2&cursor=" + next)["events"].([]any)
	if second[0].(map[string]any)["seq"] != all[2].(map[string]any)["seq"] {
		t.Errorf("second page starts at %v, want %v", second[0].(map[string]any)["seq"], all[2].(map[string]any)["seq"])
	}
	if a := ts.do(t, "GET", "/api/v1/admin/audit?since=yesterday", "", "", bearer(carol.token)); a.Status != 400 {
		t.Errorf("bad since = %d, want 400", a.Status)
	}
	a := ts.do(t, "GET", "/api/v1/admin/audit/export?format=csv&action=login", "", "", bearer(carol.token))
	if a.Status != 200 || !strings.HasPrefix(string(a.Body), "seq,at,action,outcome") {
		t.Errorf("csv export = %d %.80s", a.Status, a.Body)
	}

	verify := func() map[string]any {
		a := ts.do(t, "POST", "/api/v1/admin/audit/verify", jsonType, "", bearer(carol.token))
		if a.Status != 200 {
			t.Fatalf("verify = %d %s", a.Status, a.Body)
		}
		return a.JSON(t)
	}
	if v := verify(); v["ok"] != true || v["events"].(float64) < 5 {
		t.Errorf("verify = %v, want ok", v)
	}
	db := ts.Auth.Store.(*sqlstore.DB).SQL()
	if _, err := db.Exec(`UPDATE audit_events SET body = replace(body, '"outcome":"failed"', '"outcome":"ok"') WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET action = 'tampered' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if v := verify(); v["ok"] != false || v["broken_at"] != 2.0 {
		t.Errorf("verify after tampering = %v, want broken_at 2", v)
	}
}

func TestAdminPolicyAndDashboard(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	// A full sign-in with the second factor feeds the latency histogram.
	ts.Clock.Add(time.Minute)
	pending := loginToken(t, ts, "carol", adminPassword)
	code := oathtool(t, carol.secret, ts.Clock.Now())
	if a := ts.do(t, "POST", "/api/v1/login/mfa", jsonType, jsonBody(map[string]string{"method": "totp", "code": code}), bearer(pending)); a.Status != 200 {
		t.Fatalf("login mfa = %d %s", a.Status, a.Body)
	}
	ts.do(t, "POST", "/api/v1/login", jsonType, loginBody("alice", "wrong password here"))

	a := ts.do(t, "GET", "/api/v1/admin/policy", "", "", bearer(carol.token))
	if a.Status != 200 {
		t.Fatalf("policy = %d %s", a.Status, a.Body)
	}
	mfa := a.JSON(t)["mfa"].(map[string]any)
	if fmt.Sprint(mfa["mandatory_roles"]) != "[admin approver auditor]" || mfa["mandatory_users"] != 3.0 || len(mfa["trusted_networks"].([]any)) != 2 {
		t.Errorf("policy mfa = %v", mfa)
	}

	a = ts.do(t, "GET", "/api/v1/admin/dashboard", "", "", bearer(carol.token))
	if a.Status != 200 {
		t.Fatalf("dashboard = %d %s", a.Status, a.Body)
	}
	d := a.JSON(t)
	sec := d["security_events"].(map[string]any)
	if sec["failed_logins"].(float64) < 1 {
		t.Errorf("security events = %v, want the failed login", sec)
	}
	lat := d["second_factor_latency"].(map[string]any)
	if lat["count"] != 1.0 || lat["target_seconds"] != 2.0 || lat["within_target"] != true || lat["p95_seconds"].(float64) <= 0 {
		t.Errorf("latency = %v", lat)
	}
	adoption := d["adoption"].(map[string]any)
	if adoption["target_percent"] != 95.0 || adoption["roles"].(map[string]any)["admin"] == nil {
		t.Errorf("adoption = %v", adoption)
	}
}
