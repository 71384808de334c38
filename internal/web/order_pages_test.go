package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/order"
)

// browserReply is a page answer, redirects not followed.
type browserReply struct {
	Status   int
	Location string
	Body     string
}

// page sends a browser request with the session cookie of token; form,
// when not nil, is posted url-encoded.
func (e *grantEnv) page(t *testing.T, method, path, token string, form url.Values) browserReply {
	t.Helper()
	a := pageRequest(t, e.URL, method, path, token, form)
	return browserReply{Status: a.Status, Location: a.Header.Get("Location"), Body: string(a.Body)}
}

// csrf returns the CSRF token of token's session.
func (e *grantEnv) csrf(t *testing.T, token string) string {
	t.Helper()
	sess, _, err := e.Auth.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return sess.CSRFToken
}

var orderRowRE = regexp.MustCompile(`<tr data-order="(ord_[a-z0-9]+)">`)

func TestOrderListPage(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	for _, name := range []string{"Ada", "Bea", "Zed"} {
		o := manualOrder(1000)
		o["customer"] = map[string]any{"name": name, "email": strings.ToLower(name) + "@example.com"}
		if r := e.api(t, "POST", "/api/v1/orders", clerk, o); r.Status != http.StatusCreated {
			t.Fatalf("create = %d %s", r.Status, r.Body)
		}
		e.Clock.Add(time.Second)
	}
	pending := e.pendingOrder(t, clerk, 600000)

	tests := []struct {
		query string
		rows  int
		want  string
	}{
		{"", 4, "12000.00 USD"},
		{"?status=pending_approval", 1, pending},
		{"?q=zed", 1, "Zed"},
		{"?channel=manual&q=bea", 1, "Bea"},
		{"?channel=shopify", 0, `id="no-orders"`},
		{"?limit=3", 3, `id="next-page"`},
	}
	for _, tc := range tests {
		r := e.page(t, "GET", "/orders"+tc.query, clerk, nil)
		if got := len(orderRowRE.FindAllString(r.Body, -1)); r.Status != http.StatusOK || got != tc.rows || !strings.Contains(r.Body, tc.want) {
			t.Errorf("GET /orders%s = %d with %d rows; want 200 with %d rows containing %q", tc.query, r.Status, got, tc.rows, tc.want)
		}
	}

	// The cursor continues where the first page ended.
	first := e.page(t, "GET", "/orders?limit=3", clerk, nil)
	next := regexp.MustCompile(`id="next-page" href="([^"]+)"`).FindStringSubmatch(first.Body)
	if next == nil {
		t.Fatal("no next page link")
	}
	second := e.page(t, "GET", strings.ReplaceAll(next[1], "&amp;", "&"), clerk, nil)
	seen := map[string]bool{}
	for _, body := range []string{first.Body, second.Body} {
		for _, m := range orderRowRE.FindAllStringSubmatch(body, -1) {
			seen[m[1]] = true
		}
	}
	if len(seen) != 4 {
		t.Errorf("two pages listed %d distinct orders, want 4", len(seen))
	}

	if r := e.page(t, "GET", "/orders", "", nil); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Errorf("orders without a session = %d → %q, want 303 → /login", r.Status, r.Location)
	}
	if r := e.page(t, "GET", "/orders?status=bogus", clerk, nil); r.Status != http.StatusBadRequest {
		t.Errorf("unknown status filter = %d, want 400", r.Status)
	}
}

func TestOrderApprovePage(t *testing.T) {
	e := startGrantEnv(t)
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	frank := e.totpPerson(t, "frank", "approver")
	id := e.pendingOrder(t, clerk, 600000)
	csrf := e.csrf(t, frank.Token)

	r := e.page(t, "GET", "/orders/"+id, frank.Token, nil)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `id="approve"`) || !strings.Contains(r.Body, "order.created") {
		t.Fatalf("order page = %d; want 200 with the approve button and the history\n%s", r.Status, r.Body)
	}

	steps := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no CSRF token", url.Values{}, http.StatusForbidden, "CSRF"},
		{"wrong CSRF token", url.Values{"csrf_token": {"nope"}}, http.StatusForbidden, "CSRF"},
		{"prompt", url.Values{"csrf_token": {csrf}}, http.StatusUnauthorized, `<strong id="stepup-amount">12000.00 USD</strong> with <strong id="stepup-counterparty">Ada</strong>`},
		{"wrong code", url.Values{"csrf_token": {csrf}, "method": {"totp"}, "code": {"000000"}}, http.StatusUnauthorized, "That code did not work"},
		{"right code", url.Values{"csrf_token": {csrf}, "method": {"totp"}, "code": {e.code(frank)}}, http.StatusSeeOther, ""},
	}
	for _, st := range steps {
		r := e.page(t, "POST", "/orders/"+id+"/approve", frank.Token, st.form)
		if r.Status != st.status || !strings.Contains(r.Body, st.want) {
			t.Errorf("%s: POST approve = %d %q; want %d containing %q", st.name, r.Status, r.Body, st.status, st.want)
		}
		if st.status == http.StatusSeeOther && r.Location != "/orders/"+id+"?done=approved" {
			t.Errorf("%s: redirect to %q", st.name, r.Location)
		}
	}
	r = e.page(t, "GET", "/orders/"+id+"?done=approved", frank.Token, nil)
	for _, want := range []string{`id="order-status">approved`, `id="order-notice"`, "order.approved", "step_up_id: sug_", "method: totp", "192.0.2.7"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("order page after approval lacks %q", want)
		}
	}
	if o, _ := e.DB.OrderByID(context.Background(), id); o.Status != order.StatusApproved {
		t.Errorf("status = %s, want approved", o.Status)
	}
}

func TestOrderEditPage(t *testing.T) {
	e := startGrantEnv(t)
	carol := e.totpPerson(t, "carol", "clerk")
	id := e.pendingOrder(t, carol.Token, 600000)
	csrf := e.csrf(t, carol.Token)

	if r := e.page(t, "GET", "/orders/"+id+"/edit", carol.Token, nil); r.Status != http.StatusOK || !strings.Contains(r.Body, `id="order-edit"`) {
		t.Fatalf("edit page = %d", r.Status)
	}
	// A change without contract terms needs no second factor.
	r := e.page(t, "POST", "/orders/"+id+"/edit", carol.Token, url.Values{"csrf_token": {csrf}, "number": {"M-42"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("rename = %d %s", r.Status, r.Body)
	}
	terms := url.Values{"csrf_token": {csrf}, "payment_terms": {"net 30"}, "po_number": {"PO-9"}}
	r = e.page(t, "POST", "/orders/"+id+"/edit", carol.Token, terms)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, `id="edit-stepup"`) || !strings.Contains(r.Body, `value="net 30"`) {
		t.Fatalf("terms without a code = %d; want 401 with the step-up prompt and the values kept\n%s", r.Status, r.Body)
	}
	terms.Set("method", "totp")
	terms.Set("code", e.code(carol))
	if r := e.page(t, "POST", "/orders/"+id+"/edit", carol.Token, terms); r.Status != http.StatusSeeOther {
		t.Fatalf("terms with a code = %d %s", r.Status, r.Body)
	}
	o, _ := e.DB.OrderByID(context.Background(), id)
	if o.Number != "M-42" || o.Terms.PaymentTerms != "net 30" || o.Terms.PONumber != "PO-9" {
		t.Errorf("order = %s %+v; want M-42, net 30, PO-9", o.Number, o.Terms)
	}
	if r := e.page(t, "POST", "/orders/"+id+"/edit", carol.Token, url.Values{"number": {"M-43"}}); r.Status != http.StatusForbidden {
		t.Errorf("edit without CSRF token = %d, want 403", r.Status)
	}
}

func TestSourcesPage(t *testing.T) {
	e := startGrantEnv(t)
	admin, _ := e.person(t, "ann", time.Minute, "admin")
	clerk, _ := e.person(t, "carol", time.Minute, "clerk")
	csrf := e.csrf(t, admin)

	if r := e.page(t, "GET", "/admin/sources", clerk, nil); r.Status != http.StatusForbidden {
		t.Errorf("sources page for a clerk = %d, want 403", r.Status)
	}
	r := e.page(t, "POST", "/admin/sources", admin, url.Values{"csrf_token": {csrf}, "channel": {"csv"}, "name": {"acme-csv"}})
	secret := regexp.MustCompile(`id="source-secret">(ogk_[^<]+)<`).FindStringSubmatch(r.Body)
	if r.Status != http.StatusOK || secret == nil {
		t.Fatalf("add source = %d; want 200 showing the API key once\n%s", r.Status, r.Body)
	}
	r = e.page(t, "GET", "/admin/sources", admin, nil)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "acme-csv") || strings.Contains(r.Body, secret[1]) {
		t.Errorf("sources page = %d; want acme-csv listed and its key not shown again", r.Status)
	}
	if r := e.page(t, "POST", "/admin/sources", admin, url.Values{"csrf_token": {csrf}, "channel": {"csv"}, "name": {"acme-csv"}}); r.Status != http.StatusConflict {
		t.Errorf("a taken name = %d, want 409", r.Status)
	}
	if r := e.page(t, "POST", "/admin/sources", admin, url.Values{"channel": {"csv"}, "name": {"other"}}); r.Status != http.StatusForbidden {
		t.Errorf("add without CSRF token = %d, want 403", r.Status)
	}
}
