package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
)

// The order pages: the list with filters, an order with its history, the
// edit form, approval with a step-up prompt, and the intake sources.
// Forms post with the session's CSRF token; a step-up is a code form
// that proves the factor (POST /api/v1/step-up's work, bound to the order
// by a one-time grant) and then performs the action, so no script runs.

// timeLayout is how the order pages show times.
const timeLayout = "2006-01-02 15:04:05 UTC"

func showTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(timeLayout)
}

func showAmount(v int64, currency string) string {
	return order.FormatAmount(v, currency) + " " + currency
}

// orderPage returns the request's active session and the order services,
// or answers and returns nil.
func (s *Server) orderPage(w http.ResponseWriter, r *http.Request) (*session, *orderAPI) {
	ss := s.activePage(w, r)
	if ss == nil {
		return nil, nil
	}
	if s.orders == nil {
		s.renderOrderError(w, r, ss, errOrdersOff)
		return nil, nil
	}
	return ss, s.orders
}

// renderOrderError shows err on a page of its own.
func (s *Server) renderOrderError(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	status, msg := s.pageError(r, err)
	p := pageFor(ss, "Orders")
	p.Error = msg
	p.Data = messageData{Link: "/orders", LinkText: "Back to the orders"}
	s.render(w, status, "message.html", p)
}

// orderRow is one line of the orders list.
type orderRow struct {
	ID, Number, Channel, Status, Customer, Amount, Placed string
}

// ordersData is the orders list page.
type ordersData struct {
	Status, Channel, Q string
	Statuses           []string
	Channels           []string
	Rows               []orderRow
	// NextURL continues the listing; "" on the last page.
	NextURL string
}

var pageStatuses = []string{string(order.StatusReceived), string(order.StatusNeedsReview), string(order.StatusPendingApproval),
	string(order.StatusApproved), string(order.StatusFulfilled), string(order.StatusCancelled)}

func (s *Server) handleOrdersPage(w http.ResponseWriter, r *http.Request) {
	ss, a := s.orderPage(w, r)
	if ss == nil {
		return
	}
	q := r.URL.Query()
	d := ordersData{Status: q.Get("status"), Channel: q.Get("channel"), Q: q.Get("q"), Statuses: pageStatuses,
		Channels: append(slices.Clone(intake.Channels), order.ChannelManual)}
	p := pageFor(ss, "Orders")
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit < 1 || limit > 500 {
		limit = 50
	}
	list, next, err := a.orders.List(r.Context(), order.Filter{Status: order.Status(d.Status), Channel: d.Channel, Q: d.Q,
		Cursor: q.Get("cursor"), Limit: limit})
	status := http.StatusOK
	if err != nil {
		status, p.Error = s.pageError(r, err)
	}
	for _, o := range list {
		d.Rows = append(d.Rows, orderRow{ID: o.ID, Number: o.Number, Channel: o.Channel, Status: string(o.Status),
			Customer: order.Counterparty(o), Amount: showAmount(o.Total, o.Currency), Placed: showTime(o.PlacedAt)})
	}
	if next != "" {
		v := url.Values{}
		for k, x := range map[string]string{"status": d.Status, "channel": d.Channel, "q": d.Q, "cursor": next, "limit": q.Get("limit")} {
			if x != "" {
				v.Set(k, x)
			}
		}
		d.NextURL = "/orders?" + v.Encode()
	}
	p.Data = d
	s.render(w, status, "orders.html", p)
}

// lineRow is an order line as shown.
type lineRow struct {
	SKU, Title                          string
	Quantity                            int64
	UnitPrice, Discount, Tax, LineTotal string
}

// historyRow is one audit event of an order as shown: who, how they
// were authenticated, from where, and the step-up evidence.
type historyRow struct {
	Seq                                       int64
	At, Action, Outcome                       string
	Actor, AAL, AMR, SecondFactorAt, ClientIP string
	StepUp, Details                           string
}

// orderData is the order page.
type orderData struct {
	Order                             *order.Order
	Amount, Counterparty              string
	Subtotal, Discount, Shipping, Tax string
	Lines                             []lineRow
	Approvals                         []historyRow
	History                           []historyRow
	CanApprove, CanEdit, CanSubmit    bool
	Notice                            string
}

// flatten renders a map as sorted "key: value" pairs.
func flatten(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", k, m[k])
	}
	return b.String()
}

func historyOf(ev audit.Event) historyRow {
	a := ev.Actor
	who := a.Name
	if who == "" {
		who = a.ID
	}
	if a.Kind != "" && a.Kind != ordergate.ActorUser {
		who = a.Kind + " " + who
	}
	h := historyRow{Seq: ev.Seq, At: showTime(ev.At), Action: ev.Action, Outcome: ev.Outcome, Actor: who,
		AMR: strings.Join(a.Auth.AMR, " + "), SecondFactorAt: showTime(a.Auth.SecondFactorAt()), ClientIP: a.Auth.ClientIP}
	if a.Auth.AAL > 0 {
		h.AAL = fmt.Sprint(int(a.Auth.AAL))
	}
	rest := map[string]any{}
	for k, v := range ev.Data {
		if k == "step_up" {
			if m, ok := v.(map[string]any); ok {
				h.StepUp = flatten(m)
				continue
			}
		}
		rest[k] = v
	}
	h.Details = flatten(rest)
	return h
}

func (s *Server) handleOrderPage(w http.ResponseWriter, r *http.Request) {
	ss, a := s.orderPage(w, r)
	if ss == nil {
		return
	}
	s.renderOrder(w, r, ss, a, http.StatusOK, r.URL.Query().Get("done"), "")
}

// renderOrder shows the order page with a notice or an error.
func (s *Server) renderOrder(w http.ResponseWriter, r *http.Request, ss *session, a *orderAPI, status int, notice, msg string) {
	id := r.PathValue("id")
	o, err := a.orders.Get(r.Context(), id)
	if err != nil {
		s.renderOrderError(w, r, ss, err)
		return
	}
	evs, err := a.orders.History(r.Context(), id, 0, 200)
	if err != nil {
		s.renderOrderError(w, r, ss, err)
		return
	}
	actor := auth.UserActor(ss.user, ss.sess)
	d := orderData{Order: o, Amount: showAmount(o.Total, o.Currency), Counterparty: order.Counterparty(o),
		Subtotal: showAmount(o.Subtotal, o.Currency), Discount: showAmount(o.DiscountTotal, o.Currency),
		Shipping: showAmount(o.ShippingTotal, o.Currency), Tax: showAmount(o.TaxTotal, o.Currency),
		CanApprove: o.Status == order.StatusPendingApproval && actor.HasRole(order.RoleApprover),
		CanEdit:    !o.Status.Final() && (actor.HasRole(order.RoleClerk) || actor.HasRole(order.RoleAdmin)),
	}
	d.CanSubmit = d.CanEdit && (o.Status == order.StatusReceived || o.Status == order.StatusNeedsReview)
	switch notice {
	case "approved":
		d.Notice = "Your approval was recorded."
	case "saved":
		d.Notice = "The changes were saved."
	}
	for _, l := range o.Lines {
		d.Lines = append(d.Lines, lineRow{SKU: l.SKU, Title: l.Title, Quantity: l.Quantity, UnitPrice: showAmount(l.UnitPrice, o.Currency),
			Discount: showAmount(l.Discount, o.Currency), Tax: showAmount(l.Tax, o.Currency), LineTotal: showAmount(l.Total, o.Currency)})
	}
	for _, ap := range o.Approvals {
		h := historyRow{At: showTime(ap.At), Actor: ap.UserName, StepUp: flatten(ap.Evidence)}
		d.Approvals = append(d.Approvals, h)
	}
	for _, ev := range evs {
		d.History = append(d.History, historyOf(ev))
	}
	p := pageFor(ss, "Order "+o.Number)
	p.Error = msg
	p.Data = d
	s.render(w, status, "order.html", p)
}

// stepUpPrompt is the step-up prompt of an order action: what is being
// approved or changed, for how much, with whom, and the code form.
type stepUpPrompt struct {
	Action       string // what the person is doing, in words
	OrderID      string
	Number       string
	Amount       string
	Counterparty string
	Methods      []string
	MaxAge       int
	Message      string
}

// codeMethods are the step-up methods a code form proves.
var codeMethods = []string{auth.MethodTOTP, auth.MethodSMS, auth.MethodBackupCode}

func promptFor(o *order.Order, action string, required map[string]any, msg string) *stepUpPrompt {
	p := &stepUpPrompt{Action: action, OrderID: o.ID, Number: o.Number, Amount: showAmount(o.Total, o.Currency),
		Counterparty: order.Counterparty(o), Message: msg}
	ms, _ := required["methods"].([]string)
	for _, m := range ms {
		if slices.Contains(codeMethods, m) {
			p.Methods = append(p.Methods, m)
		}
	}
	if len(p.Methods) == 0 {
		p.Methods = []string{auth.MethodTOTP}
	}
	p.MaxAge, _ = required["max_age"].(int)
	return p
}

// stepUpForm proves the code the form carries for action on the order
// and returns the actor and request context that present the one-time
// grant; ok is false when no code was given. A wrong code is an error.
func (s *Server) stepUpForm(w http.ResponseWriter, r *http.Request, ss *session, action, orderID string) (actor ordergate.Actor, req *http.Request, ok bool, err error) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	actor = auth.UserActor(ss.user, ss.sess)
	if code == "" {
		return actor, r, false, nil
	}
	method := r.PostFormValue("method")
	if !slices.Contains(codeMethods, method) {
		method = auth.MethodTOTP
	}
	res, err := s.Auth.StepUp(r.Context(), ss.sess, ss.user, method, code, action, orderID)
	if err != nil {
		return actor, r, true, err
	}
	s.replaceCookie(w, ss, res.Token, res.Session)
	id, err := s.issueStepUpGrant(r.Context(), ss.user, res.Session, method, action, orderID, nil)
	if err != nil {
		return actor, r, true, err
	}
	actor = auth.UserActor(ss.user, res.Session)
	ctx := ordergate.WithActor(r.Context(), actor)
	if id != "" {
		ctx = order.WithStepUpID(ctx, id)
	}
	return actor, r.WithContext(ctx), true, nil
}

// codeFailed is the one message a refused step-up code gets.
const codeFailed = "That code did not work. Please try again with a new code."

func (s *Server) handleOrderApproveForm(w http.ResponseWriter, r *http.Request) {
	ss, a := s.orderPage(w, r)
	if ss == nil {
		return
	}
	id := r.PathValue("id")
	o, err := a.orders.Get(r.Context(), id)
	if err != nil {
		s.renderOrderError(w, r, ss, err)
		return
	}
	actor, r2, stepped, err := s.stepUpForm(w, r, ss, order.ActionApprove, id)
	if err != nil {
		msg := codeFailed
		if c := ordergate.ErrorCode(err); c == ordergate.ERATELIMIT {
			_, msg = s.pageError(r, err)
		}
		s.Log.Info("order step-up refused", "event", "order.step_up_failed", "user_id", ss.user.ID, "order_id", id,
			"code", ordergate.ErrorCode(err), "client_ip", s.ClientIP(r))
		s.renderApprovePrompt(w, ss, o, map[string]any{"methods": []string{r.PostFormValue("method")}}, msg, http.StatusUnauthorized)
		return
	}
	_, err = a.orders.Approve(r2.Context(), actor, id)
	if req, ok := stepUpRequired(err); ok {
		msg := ""
		if stepped {
			msg = "That step-up was not accepted for this approval. Please enter a new code."
		}
		s.renderApprovePrompt(w, ss, o, req, msg, http.StatusUnauthorized)
		return
	}
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderOrder(w, r, ss, a, status, "", msg)
		return
	}
	http.Redirect(w, r, "/orders/"+url.PathEscape(id)+"?done=approved", http.StatusSeeOther)
}

func (s *Server) renderApprovePrompt(w http.ResponseWriter, ss *session, o *order.Order, required map[string]any, msg string, status int) {
	p := pageFor(ss, "Approve order "+o.Number)
	p.Data = promptFor(o, "approve", required, msg)
	s.render(w, status, "order_stepup.html", p)
}

// editData is the edit form: the values shown and, when the change
// needs a second factor, the step-up prompt.
type editData struct {
	Order    *order.Order
	Values   map[string]string
	Statuses []string
	StepUp   *stepUpPrompt
}

// editFields are the form fields of the edit page.
var editFields = []string{"number", "customer_name", "customer_email", "customer_phone", "po_number", "payment_terms",
	"requested_delivery", "status"}

func valuesOf(o *order.Order) map[string]string {
	return map[string]string{"number": o.Number, "customer_name": o.Customer.Name, "customer_email": o.Customer.Email,
		"customer_phone": o.Customer.Phone, "po_number": o.Terms.PONumber, "payment_terms": o.Terms.PaymentTerms,
		"requested_delivery": o.Terms.RequestedDelivery, "status": string(o.Status)}
}

func (s *Server) handleOrderEditPage(w http.ResponseWriter, r *http.Request) {
	ss, a := s.orderPage(w, r)
	if ss == nil {
		return
	}
	o, err := a.orders.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.renderOrderError(w, r, ss, err)
		return
	}
	s.renderEdit(w, ss, o, valuesOf(o), nil, http.StatusOK, "")
}

func (s *Server) renderEdit(w http.ResponseWriter, ss *session, o *order.Order, v map[string]string, su *stepUpPrompt, status int, msg string) {
	p := pageFor(ss, "Edit order "+o.Number)
	p.Error = msg
	p.Data = editData{Order: o, Values: v, Statuses: []string{string(order.StatusReceived), string(order.StatusPendingApproval),
		string(order.StatusFulfilled)}, StepUp: su}
	s.render(w, status, "order_edit.html", p)
}

// patchFrom returns the change the form makes to o: only the fields the
// form carries and that differ, and the form's values over o's.
func patchFrom(r *http.Request, o *order.Order) (*order.Patch, map[string]string, bool) {
	v := valuesOf(o)
	for _, f := range editFields {
		if _, ok := r.PostForm[f]; ok {
			v[f] = strings.TrimSpace(r.PostFormValue(f))
		}
	}
	p := &order.Patch{}
	changed := false
	if v["number"] != o.Number {
		n := v["number"]
		p.Number, changed = &n, true
	}
	c := order.Customer{Name: v["customer_name"], Email: v["customer_email"], Phone: v["customer_phone"]}
	if c != o.Customer {
		p.Customer, changed = &c, true
	}
	t := order.Terms{PONumber: v["po_number"], PaymentTerms: v["payment_terms"], RequestedDelivery: v["requested_delivery"]}
	if t != o.Terms {
		p.Terms, changed = &t, true
	}
	if st := order.Status(v["status"]); st != o.Status {
		p.Status, changed = &st, true
	}
	return p, v, changed
}

func (s *Server) handleOrderEditForm(w http.ResponseWriter, r *http.Request) {
	ss, a := s.orderPage(w, r)
	if ss == nil {
		return
	}
	id := r.PathValue("id")
	o, err := a.orders.Get(r.Context(), id)
	if err != nil {
		s.renderOrderError(w, r, ss, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderEdit(w, ss, o, valuesOf(o), nil, http.StatusBadRequest, "The form could not be read.")
		return
	}
	p, v, changed := patchFrom(r, o)
	if !changed {
		http.Redirect(w, r, "/orders/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	actor, r2, stepped, err := s.stepUpForm(w, r, ss, order.ActionModifyTerms, id)
	if err != nil {
		s.Log.Info("order step-up refused", "event", "order.step_up_failed", "user_id", ss.user.ID, "order_id", id,
			"code", ordergate.ErrorCode(err), "client_ip", s.ClientIP(r))
		s.renderEdit(w, ss, o, v, promptFor(o, "change the contract terms of", map[string]any{"methods": []string{r.PostFormValue("method")}}, codeFailed),
			http.StatusUnauthorized, "")
		return
	}
	_, err = a.orders.Update(r2.Context(), actor, id, p)
	if req, ok := stepUpRequired(err); ok {
		msg := "Changing contract terms needs a second factor: enter a code to save."
		if stepped {
			msg = "That step-up was not accepted for this change. Please enter a new code."
		}
		s.renderEdit(w, ss, o, v, promptFor(o, "change the contract terms of", req, msg), http.StatusUnauthorized, "")
		return
	}
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderEdit(w, ss, o, v, nil, status, msg)
		return
	}
	http.Redirect(w, r, "/orders/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
}

// sourcesData is the intake sources page. Created and Secret are set
// once, right after a source was added: the secret is shown this time
// only.
type sourcesData struct {
	Sources  []sourceRow
	Channels []string
	Created  *sourceRow
	Secret   string
	// Rotated says Created got a new credential rather than being added.
	Rotated bool
	Name    string
	Channel string
}

// sourceRow is a source as shown.
type sourceRow struct {
	ID, Channel, Name, Kind, Created, LastDelivery, URL string
	Errors                                              int
	Revoked                                             bool
}

func sourceRowOf(src *intake.Source) sourceRow {
	kind := "API key"
	if src.SealedSecret != nil {
		kind = "webhook secret"
	}
	return sourceRow{ID: src.ID, Channel: src.Channel, Name: src.Name, Kind: kind, Created: showTime(src.CreatedAt),
		LastDelivery: showTime(src.LastDeliveryAt), Errors: src.ErrorCount, Revoked: src.Revoked,
		URL: "/api/v1/intake/" + src.Channel + "?source=" + url.QueryEscape(src.ID)}
}

func (s *Server) handleSourcesPage(w http.ResponseWriter, r *http.Request) {
	ss := s.adminPage(w, r, adminRoles)
	if ss == nil {
		return
	}
	s.renderSources(w, r, ss, sourcesData{}, http.StatusOK, "")
}

func (s *Server) renderSources(w http.ResponseWriter, r *http.Request, ss *session, d sourcesData, status int, msg string) {
	p := pageFor(ss, "Intake sources")
	p.Error = msg
	d.Channels = intake.Channels
	if s.orders == nil {
		s.renderOrderError(w, r, ss, errOrdersOff)
		return
	}
	list, err := s.orders.intake.Sources(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		status, p.Error = s.pageError(r, err)
	}
	for _, src := range list {
		d.Sources = append(d.Sources, sourceRowOf(src))
	}
	p.Data = d
	s.render(w, status, "sources.html", p)
}

func (s *Server) handleSourceCreateForm(w http.ResponseWriter, r *http.Request) {
	ss := s.adminPage(w, r, adminRoles)
	if ss == nil {
		return
	}
	if s.orders == nil {
		s.renderOrderError(w, r, ss, errOrdersOff)
		return
	}
	channel, name := r.PostFormValue("channel"), strings.TrimSpace(r.PostFormValue("name"))
	src, secret, err := s.orders.intake.AddSource(r.Context(), auth.UserActor(ss.user, ss.sess), channel, name, r.PostFormValue("secret"))
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderSources(w, r, ss, sourcesData{Name: name, Channel: channel}, status, msg)
		return
	}
	row := sourceRowOf(src)
	s.renderSources(w, r, ss, sourcesData{Created: &row, Secret: secret}, http.StatusOK, "")
}
