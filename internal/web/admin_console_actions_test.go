package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/smsgateway"
)

func TestAdminUsersPastDeadline(t *testing.T) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	// The policy asks admins and auditors for a second factor: dave and
	// audrey have none, carol has TOTP, alice is a clerk.
	tests := []struct {
		query  string
		status int
		want   string
		next   string
	}{
		{"?mfa=past_deadline", 200, "audrey dave", ""},
		{"?past_deadline=true", 200, "audrey dave", ""},
		{"?past_deadline=true&role=admin", 200, "dave", ""},
		{"?past_deadline=true&limit=1", 200, "audrey", "audrey"},
		{"?past_deadline=true&limit=1&cursor=audrey", 200, "dave", ""},
		{"?past_deadline=true&disabled=true", 200, "", ""},
		{"?past_deadline=false", 200, "alice audrey carol dave", ""},
		{"?past_deadline=maybe", 400, "", ""},
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
			var names []string
			for _, u := range a.JSON(t)["users"].([]any) {
				names = append(names, u.(map[string]any)["username"].(string))
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("users = %q, want %q", got, tt.want)
			}
			if got := a.JSON(t)["next"]; got != tt.next {
				t.Errorf("next = %v, want %q", got, tt.next)
			}
		})
	}
	page := pageRequest(t, ts.URL, "GET", "/admin/users?mfa=past_deadline", carol.token, nil)
	if page.Status != 200 || !strings.Contains(string(page.Body), `href="/admin/users/`) || strings.Contains(string(page.Body), ">alice<") {
		t.Errorf("users page past deadline = %d, want dave and audrey only", page.Status)
	}
}

func TestAdminUserDevices(t *testing.T) {
	ts := consoleServer(t)
	ts.Auth.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{}, ts.Clock), Store: ts.Auth.Store.(auth.RiskStore)}
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	csrf := csrfOf(t, ts, carol.token)
	loginToken(t, ts, "alice", alicePassword)
	aliceID := userID(t, ts, "alice")

	devices := func() []any {
		a := ts.do(t, "GET", "/api/v1/admin/users/"+aliceID, "", "", bearer(carol.token))
		if a.Status != 200 {
			t.Fatalf("user detail = %d %s", a.Status, a.Body)
		}
		return a.JSON(t)["devices"].([]any)
	}
	ds := devices()
	if len(ds) != 1 {
		t.Fatalf("devices after one login = %v, want one", ds)
	}
	dev := ds[0].(map[string]any)["id"].(string)
	page := pageRequest(t, ts.URL, "GET", "/admin/users/"+aliceID, carol.token, nil)
	if !strings.Contains(string(page.Body), "/devices/"+dev+"/forget") {
		t.Fatalf("user page has no forget form for %s", dev)
	}
	for _, tt := range []struct {
		name   string
		device string
		status int
	}{
		{"known", dev, http.StatusSeeOther},
		{"gone", dev, http.StatusNotFound},
	} {
		a := pageRequest(t, ts.URL, "POST", "/admin/users/"+aliceID+"/devices/"+tt.device+"/forget", carol.token, url.Values{"csrf_token": {csrf}})
		if a.Status != tt.status {
			t.Errorf("forget %s device = %d, want %d", tt.name, a.Status, tt.status)
		}
	}
	if ds := devices(); len(ds) != 0 {
		t.Errorf("devices after forgetting = %v, want none", ds)
	}
}

// outboxLines reads the JSON lines of an outbox file.
func outboxLines(t *testing.T, path string) []smsgateway.OutboxMessage {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []smsgateway.OutboxMessage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m smsgateway.OutboxMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("outbox line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestInvitationDelivery(t *testing.T) {
	dir := t.TempDir()
	texts, notices := filepath.Join(dir, "sms.jsonl"), filepath.Join(dir, "outbox.jsonl")
	ts := consoleServer(t)
	ts.Auth.Recovery = &auth.Recovery{Store: ts.Auth.Store.(auth.RecoveryStore), SMS: smsgateway.NewOutbox(texts, ts.Clock),
		Notices: smsgateway.NewOutbox(notices, ts.Clock), CodeKey: []byte("sms code key of thirty-two bytes"), PublicURL: consoleURL}
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	csrf := csrfOf(t, ts, carol.token)

	tests := []struct {
		name, username, email, phone string
		page                         bool
		via, file, to                string
	}{
		{"phone by API", "pia", "", "+14155552671", false, "sms", texts, "+14155552671"},
		{"e-mail by API", "eve", "eve@example.com", "", false, "outbox", notices, "eve@example.com"},
		{"nothing by API", "nat", "", "", false, "outbox", notices, "user:"},
		{"phone by page", "pete", "", "+14155552672", true, "sms", texts, "+14155552672"},
		{"e-mail by page", "emma", "emma@example.com", "", true, "outbox", notices, "emma@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(outboxLines(t, tt.file))
			var link string
			if tt.page {
				a := pageRequest(t, ts.URL, "POST", "/admin/invitations", carol.token, url.Values{"csrf_token": {csrf},
					"username": {tt.username}, "email": {tt.email}, "phone": {tt.phone}, "roles": {"clerk"}})
				if a.Status != http.StatusCreated {
					t.Fatalf("invite page = %d %s", a.Status, a.Body)
				}
				m := regexp.MustCompile(`value="(https://[^"]+/invitations/[^"]+)"`).FindSubmatch(a.Body)
				if m == nil {
					t.Fatalf("no link on the page")
				}
				link = string(m[1])
				want := map[string]string{"sms": "sent by text message", "outbox": "sent to the notification outbox"}[tt.via]
				if !strings.Contains(string(a.Body), want) {
					t.Errorf("page does not say %q", want)
				}
			} else {
				a := ts.do(t, "POST", "/api/v1/admin/invitations", jsonType, jsonBody(map[string]any{"username": tt.username,
					"email": tt.email, "phone": tt.phone, "roles": []string{"clerk"}}), bearer(carol.token))
				if a.Status != http.StatusCreated {
					t.Fatalf("invite = %d %s", a.Status, a.Body)
				}
				if got := a.JSON(t)["sent_via"]; got != tt.via {
					t.Errorf("sent_via = %v, want %q", got, tt.via)
				}
				link = a.JSON(t)["url"].(string)
			}
			msgs := outboxLines(t, tt.file)
			if len(msgs) != before+1 {
				t.Fatalf("%s has %d messages, want %d", tt.file, len(msgs), before+1)
			}
			m := msgs[len(msgs)-1]
			if !strings.HasPrefix(m.To, tt.to) || !strings.Contains(m.Body, link) || !strings.Contains(m.Body, tt.username) {
				t.Errorf("message = %+v, want to %s with the link %s", m, tt.to, link)
			}
			// The delivered link is the one that works.
			token := link[strings.LastIndex(link, "/")+1:]
			a := ts.do(t, "POST", "/api/v1/invitations/"+token+"/accept", jsonType, jsonBody(map[string]string{"password": "a long new password for " + tt.username}))
			if a.Status != 200 {
				t.Errorf("accept the delivered link = %d %s", a.Status, a.Body)
			}
		})
	}
}

// stepUpServer is a console server whose admins carol and dave both have
// TOTP; it returns them signed in.
func stepUpServer(t *testing.T) (*testServer, totpUser, totpUser) {
	ts := consoleServer(t)
	carol := signInWithTOTP(t, ts, "carol", adminPassword)
	ts.Clock.Add(time.Minute)
	dave := signInWithTOTP(t, ts, "dave", adminPassword)
	return ts, carol, dave
}

func TestConsoleStepUpPrompt(t *testing.T) {
	ts, carol, dave := stepUpServer(t)
	aliceID := userID(t, ts, "alice")
	a := ts.do(t, "PUT", "/api/v1/admin/users/"+aliceID+"/roles", jsonType, jsonBody(map[string]any{"roles": []string{"approver", "clerk"}}), bearer(carol.token))
	if a.Status != http.StatusAccepted && a.Status != http.StatusOK {
		t.Fatalf("request approver = %d %s", a.Status, a.Body)
	}
	reqs := ts.do(t, "GET", "/api/v1/admin/role-requests", "", "", bearer(dave.token)).JSON(t)
	rid := reqs["requests"].([]any)[0].(map[string]any)["id"].(string)
	// Dave's second factor is now older than the approval allows.
	ts.Clock.Add(10 * time.Minute)
	csrf := csrfOf(t, ts, dave.token)
	path := "/admin/role-requests/" + rid + "/approve"

	prompt := pageRequest(t, ts.URL, "POST", path, dave.token, url.Values{"csrf_token": {csrf}})
	if prompt.Status != http.StatusUnauthorized || !strings.Contains(string(prompt.Body), `name="stepup_code"`) ||
		!strings.Contains(string(prompt.Body), `action="`+path+`"`) {
		t.Fatalf("stale approval = %d, want 401 with a step-up form posting to %s:\n%s", prompt.Status, path, prompt.Body)
	}
	steps := []struct {
		name   string
		code   string
		status int
	}{
		{"wrong code", "000000", http.StatusUnauthorized},
		{"right code", oathtool(t, dave.secret, ts.Clock.Now()), http.StatusSeeOther},
	}
	for _, st := range steps {
		a := pageRequest(t, ts.URL, "POST", path, dave.token, url.Values{"csrf_token": {csrf}, "stepup_code": {st.code}})
		if a.Status != st.status {
			t.Fatalf("%s: = %d, want %d\n%s", st.name, a.Status, st.status, a.Body)
		}
		if st.status == http.StatusUnauthorized && !strings.Contains(string(a.Body), "That code did not work") {
			t.Errorf("%s: no generic failure message", st.name)
		}
	}
	u, err := ts.Auth.Store.UserByID(context.Background(), aliceID)
	if err != nil || strings.Join(u.Roles, ",") != "approver,clerk" {
		t.Errorf("alice's roles = %v, %v; want approver,clerk after the stepped-up approval", u.Roles, err)
	}
}

func TestConsoleFactorReset(t *testing.T) {
	ts, carol, dave := stepUpServer(t)
	ts.Auth.Recovery = &auth.Recovery{Store: ts.Auth.Store.(auth.RecoveryStore), PublicURL: consoleURL}
	aliceID := userID(t, ts, "alice")
	csrf := csrfOf(t, ts, carol.token)
	tests := []struct {
		name, user, reason string
		status             int
	}{
		{"reason too short", aliceID, "lost", http.StatusBadRequest},
		{"own account", userID(t, ts, "carol"), "lost my phone, checked by video call", http.StatusForbidden},
		{"unknown user", "usr_nope", "lost the phone, checked by video call", http.StatusNotFound},
		{"ok", aliceID, "lost the phone, checked by video call", http.StatusCreated},
	}
	for _, tt := range tests {
		a := pageRequest(t, ts.URL, "POST", "/admin/users/"+tt.user+"/factor-reset", carol.token, url.Values{"csrf_token": {csrf}, "reason": {tt.reason}})
		if a.Status != tt.status {
			t.Errorf("%s: factor reset = %d, want %d", tt.name, a.Status, tt.status)
		}
	}
	a := ts.do(t, "GET", "/api/v1/admin/factor-resets", "", "", bearer(dave.token))
	if a.Status != 200 || !strings.Contains(string(a.Body), aliceID) {
		t.Errorf("factor resets for the second admin = %d %s, want alice's pending reset", a.Status, a.Body)
	}
	page := pageRequest(t, ts.URL, "GET", "/admin/users/"+aliceID, carol.token, nil)
	if !strings.Contains(string(page.Body), `action="/admin/users/`+aliceID+`/factor-reset"`) {
		t.Errorf("user page has no factor reset form")
	}
}

func TestAdminSources(t *testing.T) {
	e := startOrderEnv(t)
	admin, _ := e.person(t, "ada", 0, "admin")
	clerk, _ := e.person(t, "cal", 0, "clerk")
	if r := e.api(t, "GET", "/api/v1/admin/sources", clerk, nil); r.Status != http.StatusForbidden {
		t.Errorf("sources for a clerk = %d, want 403", r.Status)
	}
	r := e.api(t, "POST", "/api/v1/admin/sources", admin, map[string]string{"channel": "amazon", "name": "amazon-eu"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create source = %d %s", r.Status, r.Body)
	}
	created := r.JSON(t)
	id := created["source"].(map[string]any)["id"].(string)
	oldKey := created["secret"].(string)
	deliver := func(key string) int {
		return do(t, "POST", e.URL+"/api/v1/intake/amazon?source="+id, []byte(`{}`), map[string]string{"Content-Type": "application/json",
			"Authorization": "Bearer " + key}).Status
	}
	r = e.api(t, "POST", "/api/v1/admin/sources/"+id+"/rotate", admin, nil)
	if r.Status != 200 {
		t.Fatalf("rotate = %d %s", r.Status, r.Body)
	}
	newKey := r.JSON(t)["secret"].(string)
	if newKey == oldKey || !strings.HasPrefix(newKey, "ogk_"+id+"_") {
		t.Errorf("rotated key %q, want a new key of %s", newKey, id)
	}
	if got := deliver(oldKey); got != http.StatusUnauthorized {
		t.Errorf("delivery with the old key = %d, want 401", got)
	}
	if got := deliver(newKey); got == http.StatusUnauthorized {
		t.Errorf("delivery with the new key = %d, want it authenticated", got)
	}
	list := e.api(t, "GET", "/api/v1/admin/sources", admin, nil)
	if list.Status != 200 || strings.Contains(string(list.Body), oldKey) || strings.Contains(string(list.Body), newKey) {
		t.Errorf("source list = %d, and must never show a key", list.Status)
	}
	var row map[string]any
	for _, s := range list.JSON(t)["sources"].([]any) {
		if s.(map[string]any)["id"] == id {
			row = s.(map[string]any)
		}
	}
	if row == nil || row["error_count"] != 1.0 || row["credential"] != "api_key" {
		t.Errorf("listed source = %v, want one refused delivery and an API key", row)
	}
	for _, tt := range []struct {
		name, path string
		status     int
	}{
		{"revoke", "/revoke", 200},
		{"revoke again", "/revoke", http.StatusConflict},
		{"rotate revoked", "/rotate", http.StatusConflict},
	} {
		if r := e.api(t, "POST", "/api/v1/admin/sources/"+id+tt.path, admin, nil); r.Status != tt.status {
			t.Errorf("%s = %d %s, want %d", tt.name, r.Status, r.Body, tt.status)
		}
	}
	if got := deliver(newKey); got != http.StatusUnauthorized {
		t.Errorf("delivery to a revoked source = %d, want 401", got)
	}
	if r := e.api(t, "POST", "/api/v1/admin/sources/src_nope/rotate", admin, nil); r.Status != http.StatusNotFound {
		t.Errorf("rotate unknown = %d, want 404", r.Status)
	}

	// The page rotates the Shopify source's webhook secret and shows it once.
	body := fixture(t, "shopify/testdata/python-order.json")
	page := do(t, "POST", e.URL+"/admin/sources/"+e.Shopify.ID+"/rotate", []byte(url.Values{"csrf_token": {"csrf"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "ordergate_session=" + admin})
	m := regexp.MustCompile(`id="source-secret">([^<]+)<`).FindSubmatch(page.Body)
	if page.Status != 200 || m == nil || !strings.Contains(string(page.Body), "the old one no longer works") {
		t.Fatalf("rotate page = %d, want the new secret shown:\n%s", page.Status, page.Body)
	}
	if got := e.deliverShopify(t, body, shopifySecret, "wh-old").Status; got != http.StatusUnauthorized {
		t.Errorf("webhook with the old secret = %d, want 401", got)
	}
	if got := e.deliverShopify(t, body, string(m[1]), "wh-new").Status; got == http.StatusUnauthorized {
		t.Errorf("webhook with the new secret = %d, want it authenticated", got)
	}
}
