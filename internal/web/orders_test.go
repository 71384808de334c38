package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/web"
)

// shopifySecret signs the test deliveries; it is a test value, not a
// real shop's secret.
const shopifySecret = "test-webhook-secret"

// orderClock is the fakeClock under the name the intake benchmark uses.
type orderClock = fakeClock

// orderEnv is a server with order services on a real database.
type orderEnv struct {
	URL    string
	DB     *sqlstore.DB
	Clock  *fakeClock
	Intake *intake.Service
	// Shopify is a registered Shopify source signed with shopifySecret.
	Shopify *intake.Source
}

// openOrderDB is MustOpenDB under the name the intake benchmark uses.
func openOrderDB(tb testing.TB, clock ordergate.Clock) *sqlstore.DB {
	tb.Helper()
	return MustOpenDB(tb, clock)
}

// defaultRules are the approvals: rules of the default configuration.
var defaultRules = []order.Rule{
	{Action: order.ActionApprove, Above: map[string]int64{"USD": 1000000, "EUR": 1000000}, Methods: []string{"webauthn", "totp"}, MaxAge: 5 * time.Minute},
	{Action: order.ActionModifyTerms, Methods: []string{"webauthn", "totp"}, MaxAge: 5 * time.Minute},
}

func newOrderEnv(tb testing.TB, db *sqlstore.DB, clock *fakeClock) *orderEnv {
	tb.Helper()
	keys := MustOpenKeyring(tb)
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, keys, clock, log)
	srv := web.NewServer(svc, db, web.NewMetrics(), log)
	in := intake.NewService(db, keys, clock, log)
	in.X12.DefaultCurrency = "USD"
	srv.EnableOrders(in, order.NewService(db, clock, defaultRules))
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)
	src, _, err := in.AddSource(context.Background(), ordergate.SystemActor, "shopify", "main-shop", shopifySecret)
	if err != nil {
		tb.Fatal(err)
	}
	return &orderEnv{URL: hs.URL, DB: db, Clock: clock, Intake: in, Shopify: src}
}

func startOrderEnv(t *testing.T) *orderEnv {
	t.Helper()
	clock := newFakeClock()
	return newOrderEnv(t, MustOpenDB(t, clock), clock)
}

// person creates a user with roles and an active session whose second
// factor (TOTP) was proven factorAge ago, and returns the bearer token.
func (e *orderEnv) person(tb testing.TB, name string, factorAge time.Duration, roles ...string) (token, id string) {
	tb.Helper()
	ctx := context.Background()
	u := &auth.User{Username: name, PasswordHash: "$argon2id$unused", Roles: roles}
	if err := e.DB.CreateUser(ctx, u); err != nil {
		tb.Fatal(err)
	}
	now := e.Clock.Now()
	token = auth.NewToken()
	s := &auth.Session{ID: auth.HashToken(token), UserID: u.ID, State: auth.StateActive, CSRFToken: "csrf",
		Auth: ordergate.AuthContext{AAL: ordergate.AAL2, AMR: []string{"pwd", "otp"}, AuthTime: now,
			FactorTimes: map[string]time.Time{"pwd": now.Add(-factorAge), "otp": now.Add(-factorAge)}, ClientIP: "192.0.2.7"},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}
	s.Auth.SessionID = s.PublicID()
	if err := e.DB.CreateSession(ctx, s); err != nil {
		tb.Fatal(err)
	}
	return token, u.ID
}

// do sends one request with body and the header fields of header.
func do(tb testing.TB, method, url string, body []byte, header map[string]string) answer {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return send(tb, http.DefaultClient, req)
}

// api sends a JSON request with a bearer token.
func (e *orderEnv) api(tb testing.TB, method, path, token string, body any) answer {
	tb.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			tb.Fatal(err)
		}
	}
	return do(tb, method, e.URL+path, b, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"})
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deliverShopify posts body as a Shopify webhook signed with secret.
func (e *orderEnv) deliverShopify(tb testing.TB, body []byte, secret, webhookID string) answer {
	tb.Helper()
	return do(tb, "POST", e.URL+"/api/v1/intake/shopify", body, map[string]string{
		"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sign(secret, body), "X-Shopify-Webhook-Id": webhookID})
}

func fixture(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "intake", path))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withShopifyID returns the Shopify fixture body with another order id.
func withShopifyID(body []byte, id int) []byte {
	return bytes.Replace(body, []byte(`"id": 450789469,`), []byte(fmt.Sprintf(`"id": %d,`, id)), 1)
}

func (e *orderEnv) count(tb testing.TB, table string) int {
	tb.Helper()
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestIntakeShopify(t *testing.T) {
	e := startOrderEnv(t)
	body := fixture(t, "shopify/testdata/python-order.json")

	first := e.deliverShopify(t, body, shopifySecret, "wh-1")
	if first.Status != http.StatusCreated {
		t.Fatalf("first delivery = %d %s, want 201", first.Status, first.Body)
	}
	got := first.JSON(t)
	if got["channel"] != "shopify" || got["external_id"] != "450789469" || got["status"] != "needs_review" || got["order_id"] == "" {
		t.Errorf("first delivery body = %v; want shopify order 450789469 in needs_review", got)
	}
	// The fixture's subtotal does not add up: the order is kept, with a
	// warning naming the mismatch.
	if !strings.Contains(string(first.Body), order.CodeSubtotalMismatch) {
		t.Errorf("answer lacks the warning %s: %s", order.CodeSubtotalMismatch, first.Body)
	}

	again := e.deliverShopify(t, body, shopifySecret, "wh-1")
	if again.Status != http.StatusOK || again.JSON(t)["order_id"] != got["order_id"] {
		t.Errorf("same delivery again = %d %s; want 200 with order_id %v", again.Status, again.Body, got["order_id"])
	}
	if n := e.count(t, "orders"); n != 1 {
		t.Errorf("orders stored = %d, want 1", n)
	}

	changed := bytes.Replace(body, []byte("bob.norman@hostmail.com"), []byte("bob@example.com"), -1)
	upd := e.deliverShopify(t, changed, shopifySecret, "wh-2")
	if upd.Status != http.StatusCreated || upd.JSON(t)["order_id"] != got["order_id"] {
		t.Fatalf("changed delivery = %d %s; want 201 with the same order id", upd.Status, upd.Body)
	}
	id := got["order_id"].(string)
	evs, err := e.DB.AuditEvents(context.Background(), audit.Filter{OrderID: id})
	if err != nil || len(evs) != 2 || evs[0].Action != order.EventChannelUpdate || evs[1].Action != order.EventReceived {
		t.Fatalf("order events = %+v, %v; want channel_update then received", evs, err)
	}
	changes, _ := evs[0].Data["changes"].(map[string]any)
	if c, ok := changes["customer.email"].(map[string]any); !ok || c["before"] != "bob.norman@hostmail.com" || c["after"] != "bob@example.com" {
		t.Errorf("channel_update changes = %v; want customer.email before/after", changes)
	}
	if evs[1].Actor.Kind != ordergate.ActorSource || evs[1].Actor.ID != e.Shopify.ID {
		t.Errorf("received event actor = %+v, want the source", evs[1].Actor)
	}

	metrics := do(t, "GET", e.URL+"/metrics", nil, nil)
	want := `ordergate_intake_needs_review_total{channel="shopify",code="totals.subtotal_mismatch"} 2`
	if !strings.Contains(string(metrics.Body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

func TestIntakeConcurrentDuplicates(t *testing.T) {
	e := startOrderEnv(t)
	body := fixture(t, "shopify/testdata/python-order.json")
	const n = 8
	var wg sync.WaitGroup
	replies := make([]answer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = e.deliverShopify(t, body, shopifySecret, "wh-same")
		}()
	}
	wg.Wait()
	created, ids := 0, map[any]bool{}
	for _, r := range replies {
		switch r.Status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("a concurrent delivery = %d %s", r.Status, r.Body)
		}
		ids[r.JSON(t)["order_id"]] = true
	}
	if created != 1 || len(ids) != 1 {
		t.Errorf("%d concurrent deliveries: %d answered 201, %d distinct order ids; want 1 and 1", n, created, len(ids))
	}
	if got := e.count(t, "orders"); got != 1 {
		t.Errorf("orders stored = %d, want 1", got)
	}
}

func TestIntakeRefused(t *testing.T) {
	e := startOrderEnv(t)
	body := fixture(t, "shopify/testdata/python-order.json")
	cases := []struct {
		name   string
		header map[string]string
	}{
		{"wrong secret", map[string]string{"X-Shopify-Hmac-Sha256": sign("not-the-secret", body)}},
		{"no signature", map[string]string{}},
		{"garbage signature", map[string]string{"X-Shopify-Hmac-Sha256": "!!!"}},
		{"signature of other bytes", map[string]string{"X-Shopify-Hmac-Sha256": sign(shopifySecret, append(body, ' '))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", e.URL+"/api/v1/intake/shopify", body, tc.header)
			if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != ordergate.EUNAUTHORIZED {
				t.Errorf("delivery = %d %s, want 401 unauthorized", r.Status, r.Body)
			}
			if strings.Contains(string(r.Body), shopifySecret) {
				t.Errorf("answer reveals the secret")
			}
		})
	}
	if n := e.count(t, "orders") + e.count(t, "raw_payloads"); n != 0 {
		t.Errorf("refused deliveries stored %d rows", n)
	}
	evs, _ := e.DB.AuditEvents(context.Background(), audit.Filter{Action: intake.EventRefused})
	if len(evs) != len(cases) || evs[0].Outcome != audit.OutcomeFailed {
		t.Errorf("refusal events = %d, want %d failed ones", len(evs), len(cases))
	}
}

func TestIntakeEDI(t *testing.T) {
	e := startOrderEnv(t)
	src, key, err := e.Intake.AddSource(context.Background(), ordergate.SystemActor, "edi850", "acme-edi", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "ogk_"+src.ID+"_") {
		t.Fatalf("API key %q does not name its source %s", key, src.ID)
	}
	good := fixture(t, "x12/testdata/node-x12-850.edi")
	// Quantity 0 on the first line breaks an invariant.
	broken := bytes.Replace(good, []byte("PO1*1*120*EA"), []byte("PO1*1*0*EA"), 1)
	cases := []struct {
		name    string
		body    []byte
		key     string
		status  int
		ack     string
		orders  int
		errCode string
	}{
		{"broken invariant", broken, key, http.StatusUnprocessableEntity, "AK5*R", 0, ordergate.EUNPROCESSABLE},
		{"wrong key", good, key + "x", http.StatusUnauthorized, "", 0, ordergate.EUNAUTHORIZED},
		{"other source's key shape", good, "ogk_src_nope_ABC", http.StatusUnauthorized, "", 0, ordergate.EUNAUTHORIZED},
		{"accepted", good, key, http.StatusCreated, "AK5*A", 1, ""},
		{"resent", good, key, http.StatusOK, "AK5*A", 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", e.URL+"/api/v1/intake/edi850", tc.body, map[string]string{
				"Authorization": "Bearer " + tc.key, "Content-Type": "application/edi-x12"})
			if r.Status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.Status, r.Body, tc.status)
			}
			got := r.JSON(t)
			if tc.errCode != "" && got["error"] != tc.errCode {
				t.Errorf("error = %v, want %s", got["error"], tc.errCode)
			}
			ack, _ := got["ack_997"].(string)
			if tc.ack != "" && (!strings.Contains(ack, tc.ack) || !strings.HasPrefix(ack, "ISA*")) {
				t.Errorf("ack_997 = %q, want a 997 with %s", ack, tc.ack)
			}
			if tc.status == http.StatusUnprocessableEntity {
				if fields, _ := got["fields"].(map[string]any); len(fields) == 0 {
					t.Errorf("422 names no field: %s", r.Body)
				}
			}
			if n := e.count(t, "orders"); n != tc.orders {
				t.Errorf("orders stored = %d, want %d", n, tc.orders)
			}
		})
	}
}

// manualOrder is a manual-entry body worth unitPrice × 2 cents in USD,
// with totals left out.
func manualOrder(unitPrice int64) map[string]any {
	return map[string]any{"currency": "USD", "customer": map[string]any{"name": "Ada", "email": "ada@example.com"},
		"lines": []any{map[string]any{"sku": "W-1", "title": "Widget", "quantity": 2, "unit_price": unitPrice}}}
}

func TestOrderOperations(t *testing.T) {
	e := startOrderEnv(t)
	clerk, clerkID := e.person(t, "carol", time.Minute, "clerk", "approver")
	approver, _ := e.person(t, "dave", time.Minute, "approver")
	auditor, _ := e.person(t, "erin", time.Minute, "auditor")

	r := e.api(t, "POST", "/api/v1/orders", clerk, manualOrder(1250))
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	o := r.JSON(t)
	id := o["id"].(string)
	if o["total"] != float64(2500) || o["subtotal"] != float64(2500) || o["status"] != "received" || o["created_by"] != clerkID {
		t.Errorf("created order = %v; want computed totals 2500, received, created by the clerk", o)
	}

	bad := manualOrder(1250)
	bad["total"] = 9999
	if r := e.api(t, "POST", "/api/v1/orders", clerk, bad); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), order.CodeTotalMismatch) {
		t.Errorf("create with wrong total = %d %s; want 422 naming %s", r.Status, r.Body, order.CodeTotalMismatch)
	}
	if r := e.api(t, "POST", "/api/v1/orders", auditor, manualOrder(100)); r.Status != http.StatusForbidden {
		t.Errorf("create by an auditor = %d, want 403", r.Status)
	}

	steps := []struct {
		name, method, path, token string
		body                      any
		status                    int
		want                      string // a substring of the answer
	}{
		{"approve before submission", "POST", "/approve", approver, nil, http.StatusConflict, `order is received`},
		{"illegal transition", "PATCH", "", clerk, map[string]any{"status": "fulfilled"}, http.StatusConflict, `order is received`},
		{"submit with a change", "PATCH", "", clerk, map[string]any{"status": "pending_approval", "customer": map[string]any{"name": "Ada L", "email": "ada@example.com"}}, http.StatusOK, `"status":"pending_approval"`},
		{"four eyes", "POST", "/approve", clerk, nil, http.StatusForbidden, `four eyes`},
		{"auditor cannot approve", "POST", "/approve", auditor, nil, http.StatusForbidden, `approver`},
		{"approve", "POST", "/approve", approver, nil, http.StatusOK, `"status":"approved"`},
		{"approve twice", "POST", "/approve", approver, nil, http.StatusConflict, `order is approved`},
		{"fulfil", "PATCH", "", clerk, map[string]any{"status": "fulfilled"}, http.StatusOK, `"status":"fulfilled"`},
		{"cancel a fulfilled order", "POST", "/cancel", clerk, nil, http.StatusConflict, `order is fulfilled`},
		{"unknown order", "GET", "x", clerk, nil, http.StatusNotFound, `not_found`},
	}
	for _, st := range steps {
		r := e.api(t, st.method, "/api/v1/orders/"+id+st.path, st.token, st.body)
		if r.Status != st.status || !strings.Contains(string(r.Body), st.want) {
			t.Errorf("%s: %s %s = %d %s; want %d containing %s", st.name, st.method, st.path, r.Status, r.Body, st.status, st.want)
		}
	}

	r = e.api(t, "GET", "/api/v1/orders/"+id+"/audit", auditor, nil)
	var hist struct {
		Events []audit.Event `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &hist); err != nil || r.Status != http.StatusOK {
		t.Fatalf("audit = %d %s", r.Status, r.Body)
	}
	var actions []string
	for _, ev := range hist.Events {
		actions = append(actions, ev.Action)
	}
	if fmt.Sprint(actions) != "[order.modified order.approved order.modified order.created]" {
		t.Errorf("history = %v", actions)
	}
	ap := hist.Events[1]
	if ap.Actor.Name != "dave" || ap.Actor.Auth.AAL != ordergate.AAL2 || ap.Actor.Auth.SessionID == "" || ap.Actor.Auth.ClientIP == "" {
		t.Errorf("approval event actor = %+v; want dave with aal, session and address", ap.Actor)
	}
	mod := hist.Events[2]
	if ch, _ := mod.Data["changes"].(map[string]any); ch["customer.name"] == nil || ch["status"] == nil {
		t.Errorf("modification diff = %v; want customer.name and status", mod.Data["changes"])
	}

	r = e.api(t, "GET", "/api/v1/orders?q=ADA&status=fulfilled", auditor, nil)
	if list, _ := r.JSON(t)["orders"].([]any); r.Status != http.StatusOK || len(list) != 1 {
		t.Errorf("list q=ADA status=fulfilled = %d %s, want one order", r.Status, r.Body)
	}
	if r := e.api(t, "GET", "/api/v1/orders", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("list without a session = %d, want 401", r.Status)
	}
	for query, field := range map[string]string{"since=yesterday": "since", "limit=0": "limit", "limit=501": "limit", "limit=ten": "limit"} {
		r := e.api(t, "GET", "/api/v1/orders?"+query, auditor, nil)
		if fields, _ := r.JSON(t)["fields"].(map[string]any); r.Status != http.StatusBadRequest || fields[field] == nil {
			t.Errorf("list ?%s = %d %s, want 400 naming %s", query, r.Status, r.Body, field)
		}
	}
}

func TestApproveStepUp(t *testing.T) {
	e := startOrderEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	stale, _ := e.person(t, "dave", 10*time.Minute, "approver")
	fresh, _ := e.person(t, "frank", time.Minute, "approver")

	// 2 × 600000 cents = 12,000.00 USD, above the 10,000.00 threshold.
	r := e.api(t, "POST", "/api/v1/orders", clerk, manualOrder(600000))
	id := r.JSON(t)["id"].(string)
	if r := e.api(t, "PATCH", "/api/v1/orders/"+id, clerk, map[string]any{"status": "pending_approval"}); r.Status != http.StatusOK {
		t.Fatalf("submit = %d %s", r.Status, r.Body)
	}

	r = e.api(t, "POST", "/api/v1/orders/"+id+"/approve", stale, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("approve with a 10-minute-old factor = %d %s, want 401", r.Status, r.Body)
	}
	if got, want := r.Header.Get("WWW-Authenticate"), `Bearer error="insufficient_user_authentication", max_age=300`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	got := r.JSON(t)
	delete(got, "message")
	wantBody := `{"error":"insufficient_user_authentication","required":{"max_age":300,"methods":["webauthn","totp"]}}`
	if b, _ := json.Marshal(got); string(b) != wantBody {
		t.Errorf("step-up body = %s, want %s (plus message)", b, wantBody)
	}
	if o, _ := e.DB.OrderByID(context.Background(), id); o.Status != order.StatusPendingApproval || len(o.Approvals) != 0 {
		t.Errorf("a refused approval changed the order: %s, %d approvals", o.Status, len(o.Approvals))
	}

	r = e.api(t, "POST", "/api/v1/orders/"+id+"/approve", fresh, nil)
	if r.Status != http.StatusOK || r.JSON(t)["status"] != "approved" {
		t.Fatalf("approve with a fresh factor = %d %s", r.Status, r.Body)
	}
	approvals, _ := r.JSON(t)["approvals"].([]any)
	if len(approvals) != 1 {
		t.Fatalf("approvals = %v", approvals)
	}
	ev := approvals[0].(map[string]any)["evidence"].(map[string]any)
	if ev["method"] != "totp" || ev["rule"] != order.ActionApprove || ev["session_id"] == "" {
		t.Errorf("approval evidence = %v; want the totp step-up, rule and session", ev)
	}
}

func TestUnknownCurrency(t *testing.T) {
	e := startOrderEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	body := bytes.Replace(fixture(t, "shopify/testdata/python-order.json"), []byte(`"currency": "USD"`), []byte(`"currency": "XYZ"`), 1)
	if r := e.deliverShopify(t, body, shopifySecret, "wh-x"); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("Shopify order in XYZ = %d %s, want 422", r.Status, r.Body)
	}
	manual := manualOrder(100)
	manual["currency"] = "XYZ"
	if r := e.api(t, "POST", "/api/v1/orders", clerk, manual); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), order.CodeCurrencyUnknown) {
		t.Errorf("manual order in XYZ = %d %s, want 422 naming %s", r.Status, r.Body, order.CodeCurrencyUnknown)
	}
	if n := e.count(t, "orders"); n != 0 {
		t.Errorf("orders stored = %d, want 0", n)
	}
}
