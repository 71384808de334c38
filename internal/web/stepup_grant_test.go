package web_test

import (
	"context"
	"encoding/base32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/ordergate/ordergate/internal/web"
)

// grantRules: approving above 10,000.00 USD needs a TOTP or WebAuthn
// step-up no older than 5 minutes, above 100,000.00 USD two approvers;
// changing contract terms always needs a step-up.
var grantRules = []order.Rule{
	{Action: order.ActionApprove, Above: map[string]int64{"USD": 1000000}, Methods: []string{"webauthn", "totp"}, MaxAge: 5 * time.Minute},
	{Action: order.ActionApprove, Above: map[string]int64{"USD": 10000000}, Methods: []string{"webauthn", "totp"}, MaxAge: 5 * time.Minute, Approvers: 2},
	{Action: order.ActionModifyTerms, Methods: []string{"webauthn", "totp"}, MaxAge: 5 * time.Minute},
}

// grantEnv is an order server whose step-ups are one-time grants, as
// ordergate serve wires it, on a real SQLite database.
type grantEnv struct {
	*orderEnv
	Auth *auth.Service
}

func startGrantEnv(t *testing.T) *grantEnv {
	t.Helper()
	clock := newFakeClock()
	db := MustOpenDB(t, clock)
	keys := MustOpenKeyring(t)
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, keys, clock, log)
	srv := web.NewServer(svc, db, web.NewMetrics(), log)
	in := intake.NewService(db, keys, clock, log)
	orders := order.NewService(db, clock, grantRules)
	grants := order.NewGrants(db, clock, grantRules)
	orders.StepUp = grants
	srv.EnableOrders(in, orders)
	srv.EnableStepUpGrants(grants)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &grantEnv{orderEnv: &orderEnv{URL: hs.URL, DB: db, Clock: clock, Intake: in}, Auth: svc}
}

// totpPerson is a person with a session and a confirmed TOTP factor whose
// seed the test holds; the clock moves past the confirming code's step.
type totpPerson struct {
	Token, ID string
	Seed      []byte
}

func (e *grantEnv) totpPerson(t *testing.T, name string, roles ...string) totpPerson {
	t.Helper()
	ctx := context.Background()
	token, id := e.person(t, name, time.Hour, roles...)
	sess, u, err := e.Auth.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.Auth.BeginTOTP(ctx, sess, u)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Auth.ConfirmTOTP(ctx, sess, u, enr.ID, totp.Code(seed, e.Clock.Now(), totp.DefaultParams))
	if err != nil {
		t.Fatal(err)
	}
	if res.Token != "" {
		token = res.Token
	}
	e.Clock.Add(30 * time.Second)
	return totpPerson{Token: token, ID: id, Seed: seed}
}

// code returns p's TOTP code now; the clock then moves to the next step so
// that the next code is a new one.
func (e *grantEnv) code(p totpPerson) string {
	c := totp.Code(p.Seed, e.Clock.Now(), totp.DefaultParams)
	e.Clock.Add(30 * time.Second)
	return c
}

// pendingOrder creates a manual order worth 2 × unitPrice cents, made by
// clerk and submitted for approval, and returns its id.
func (e *grantEnv) pendingOrder(t *testing.T, clerk string, unitPrice int64) string {
	t.Helper()
	r := e.api(t, "POST", "/api/v1/orders", clerk, manualOrder(unitPrice))
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	if r := e.api(t, "PATCH", "/api/v1/orders/"+id, clerk, map[string]any{"status": "pending_approval"}); r.Status != http.StatusOK {
		t.Fatalf("submit = %d %s", r.Status, r.Body)
	}
	return id
}

// stepUp proves p's next code for action on orderID and returns the grant.
func (e *grantEnv) stepUp(t *testing.T, p totpPerson, action, orderID string) string {
	t.Helper()
	r := e.api(t, "POST", "/api/v1/step-up", p.Token, map[string]any{"method": "totp", "code": e.code(p), "action": action, "order_id": orderID})
	id, _ := r.JSON(t)["step_up_id"].(string)
	if r.Status != http.StatusOK || id == "" {
		t.Fatalf("step-up for %s on %s = %d %s; want 200 with step_up_id", action, orderID, r.Status, r.Body)
	}
	return id
}

// approve asks to approve orderID presenting grant in the X-Step-Up header.
func (e *grantEnv) approve(t *testing.T, token, orderID, grant string) answer {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	if grant != "" {
		h["X-Step-Up"] = grant
	}
	return do(t, "POST", e.URL+"/api/v1/orders/"+orderID+"/approve", nil, h)
}

func TestStepUpGrantApproval(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	grace := e.totpPerson(t, "grace", "approver")

	// 12,000.00 USD needs one approver with a step-up; 240,000.00 two.
	big := e.pendingOrder(t, clerk, 600000)
	other := e.pendingOrder(t, clerk, 700000)
	huge := e.pendingOrder(t, clerk, 12000000)

	// Without a grant the answer names what is being approved.
	r := e.approve(t, frank.Token, big, "")
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("approve without a step-up = %d %s, want 401", r.Status, r.Body)
	}
	req, _ := r.JSON(t)["required"].(map[string]any)
	for k, want := range map[string]any{"amount": float64(1200000), "currency": "USD", "amount_text": "12000.00 USD",
		"counterparty": "Ada", "order_id": big, "action": order.ActionApprove, "max_age": float64(300)} {
		if req[k] != want {
			t.Errorf("required[%s] = %v, want %v", k, req[k], want)
		}
	}

	forBig := e.stepUp(t, frank, order.ActionApprove, big)
	forTerms := e.stepUp(t, frank, order.ActionModifyTerms, big)
	forHuge := e.stepUp(t, frank, order.ActionApprove, huge)

	refused := []struct {
		name, token, order, grant, reason string
	}{
		{"unknown grant", frank.Token, big, "sug_nosuchgrant", "unknown"},
		{"grant for another order", frank.Token, other, forBig, "other_order"},
		{"grant for another action", frank.Token, big, forTerms, "other_action"},
		{"someone else's grant", grace.Token, big, forBig, "other_session"},
	}
	for _, tc := range refused {
		r := e.approve(t, tc.token, tc.order, tc.grant)
		if got := r.JSON(t); r.Status != http.StatusUnauthorized || got["reason"] != tc.reason {
			t.Errorf("%s: approve = %d %s; want 401 with reason %s", tc.name, r.Status, r.Body, tc.reason)
		}
		if got := r.Header.Get("WWW-Authenticate"); got == "" {
			t.Errorf("%s: no WWW-Authenticate header", tc.name)
		}
	}

	// The grant signs once: the first approval of the huge order consumes
	// it, and the same grant cannot sign again.
	r = e.approve(t, frank.Token, huge, forHuge)
	if r.Status != http.StatusOK || r.JSON(t)["status"] != "pending_approval" {
		t.Fatalf("first of two approvals = %d %s", r.Status, r.Body)
	}
	if r := e.approve(t, frank.Token, huge, forHuge); r.Status != http.StatusUnauthorized || r.JSON(t)["reason"] != "used" {
		t.Errorf("second approval with the same grant = %d %s; want 401 reason used", r.Status, r.Body)
	}
	// The second approver needs a grant of her own.
	r = e.approve(t, grace.Token, huge, e.stepUp(t, grace, order.ActionApprove, huge))
	if r.Status != http.StatusOK || r.JSON(t)["status"] != "approved" {
		t.Errorf("second approver with her own grant = %d %s; want approved", r.Status, r.Body)
	}

	// The body field works as the header does; the evidence names the grant.
	r = do(t, "POST", e.URL+"/api/v1/orders/"+big+"/approve", []byte(`{"step_up_id":"`+forBig+`"}`),
		map[string]string{"Authorization": "Bearer " + frank.Token, "Content-Type": "application/json"})
	if r.Status != http.StatusOK || r.JSON(t)["status"] != "approved" {
		t.Fatalf("approve with the right grant = %d %s", r.Status, r.Body)
	}
	o, err := e.DB.OrderByID(context.Background(), big)
	if err != nil {
		t.Fatal(err)
	}
	ev := o.Approvals[0].Evidence
	if ev[order.EvidenceStepUpID] != forBig || ev["method"] != "totp" || ev["order_digest"] != order.Digest(o) || ev["session_id"] == "" {
		t.Errorf("approval evidence = %v; want the grant, totp, the order digest and the session", ev)
	}
	g, err := e.DB.GrantByID(context.Background(), forBig)
	if err != nil || g.UsedAt.IsZero() {
		t.Errorf("grant after the approval: %+v, %v; want it used", g, err)
	}
	evs, err := e.DB.AuditEvents(context.Background(), audit.Filter{OrderID: big, Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].Action != order.EventApproved {
		t.Fatalf("last order event = %v, %v", evs, err)
	}
	if su, _ := evs[0].Data["step_up"].(map[string]any); su[order.EvidenceStepUpID] != forBig {
		t.Errorf("approval audit event step_up = %v; want the grant", evs[0].Data["step_up"])
	}
}

func TestStepUpGrantExpiresAndCodeCountsOnce(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	id := e.pendingOrder(t, clerk, 600000)

	// One code proves one step-up.
	code := e.code(frank)
	body := map[string]any{"method": "totp", "code": code, "action": order.ActionApprove, "order_id": id}
	if r := e.api(t, "POST", "/api/v1/step-up", frank.Token, body); r.Status != http.StatusOK {
		t.Fatalf("step-up = %d %s", r.Status, r.Body)
	}
	if r := e.api(t, "POST", "/api/v1/step-up", frank.Token, body); r.Status != http.StatusUnauthorized {
		t.Errorf("the same code again = %d %s, want 401", r.Status, r.Body)
	}

	grant := e.stepUp(t, frank, order.ActionApprove, id)
	e.Clock.Add(5*time.Minute + time.Second)
	if r := e.approve(t, frank.Token, id, grant); r.Status != http.StatusUnauthorized || r.JSON(t)["reason"] != "expired" {
		t.Errorf("approve with a grant past max_age = %d %s; want 401 reason expired", r.Status, r.Body)
	}
	if r := e.approve(t, frank.Token, id, e.stepUp(t, frank, order.ActionApprove, id)); r.Status != http.StatusOK {
		t.Errorf("approve with a new grant = %d %s", r.Status, r.Body)
	}
}

// TestStepUpGrantConsumedOnce races two consumptions of one grant in the
// store: the conditional UPDATE lets one through and refuses the other
// with ESTEPUP, leaving the order as the first left it.
func TestStepUpGrantConsumedOnce(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	id := e.pendingOrder(t, clerk, 600000)
	grant := e.stepUp(t, frank, order.ActionModifyTerms, id)

	ctx := context.Background()
	change := func(o *order.Order) (audit.Event, error) {
		o.Terms.PaymentTerms += "+"
		return audit.Event{At: e.Clock.Now(), Action: order.EventModified, Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}, nil
	}
	tests := []struct {
		name, action string
		wantCode     string
	}{
		{"other action", order.ActionApprove, ordergate.ESTEPUP},
		{"first use", order.ActionModifyTerms, ""},
		{"second use", order.ActionModifyTerms, ordergate.ESTEPUP},
	}
	for _, tc := range tests {
		_, err := e.DB.UpdateOrderConsumingGrant(ctx, id, grant, tc.action, change)
		if got := ordergate.ErrorCode(err); got != tc.wantCode {
			t.Errorf("%s: UpdateOrderConsumingGrant = %v, want code %q", tc.name, err, tc.wantCode)
		}
	}
	if o, _ := e.DB.OrderByID(ctx, id); o.Terms.PaymentTerms != "+" {
		t.Errorf("payment terms = %q, want one change", o.Terms.PaymentTerms)
	}
}

func TestStepUpGrantModifyTerms(t *testing.T) {
	e := startGrantEnv(t)
	clerk := e.totpPerson(t, "carol", "clerk")
	id := e.pendingOrder(t, clerk.Token, 600000)
	terms := map[string]any{"terms": map[string]any{"po_number": "PO-7", "payment_terms": "net 30", "requested_delivery": ""}}

	if r := e.api(t, "PATCH", "/api/v1/orders/"+id, clerk.Token, terms); r.Status != http.StatusUnauthorized {
		t.Fatalf("terms without a step-up = %d %s, want 401", r.Status, r.Body)
	}
	grant := e.stepUp(t, clerk, order.ActionModifyTerms, id)
	body := map[string]any{"terms": terms["terms"], "step_up_id": grant}
	if r := e.api(t, "PATCH", "/api/v1/orders/"+id, clerk.Token, body); r.Status != http.StatusOK {
		t.Fatalf("terms with a grant = %d %s", r.Status, r.Body)
	}
	body["terms"] = map[string]any{"po_number": "PO-8"}
	if r := e.api(t, "PATCH", "/api/v1/orders/"+id, clerk.Token, body); r.Status != http.StatusUnauthorized {
		t.Errorf("another terms change with the same grant = %d %s, want 401", r.Status, r.Body)
	}
	evs, err := e.DB.AuditEvents(context.Background(), audit.Filter{OrderID: id, Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	if su, _ := evs[0].Data["step_up"].(map[string]any); evs[0].Action != order.EventModified || su[order.EvidenceStepUpID] != grant {
		t.Errorf("terms change event = %s %v; want order.modified with the grant", evs[0].Action, evs[0].Data)
	}
}

// TestStepUpThenRepeatRequest follows API.md's step-up flow as written: the
// client proves a factor for the order and repeats the request unchanged.
// The session's grant for that action and order is consumed by it, so the
// same step-up does not sign a second order or a second time.
func TestStepUpThenRepeatRequest(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	first := e.pendingOrder(t, clerk, 600000)
	second := e.pendingOrder(t, clerk, 700000)

	e.stepUp(t, frank, order.ActionApprove, first)
	if r := e.approve(t, frank.Token, second, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("approving another order after a step-up for the first = %d %s, want 401", r.Status, r.Body)
	}
	if r := e.approve(t, frank.Token, first, ""); r.Status != http.StatusOK || r.JSON(t)["status"] != "approved" {
		t.Fatalf("repeating the approval after the step-up = %d %s, want approved", r.Status, r.Body)
	}
	if r := e.approve(t, frank.Token, second, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("a second approval on the same step-up = %d %s, want 401", r.Status, r.Body)
	}
}
