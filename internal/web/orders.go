package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultIntakeMaxBody is the body limit of the intake endpoint: EDI
// interchanges and CSV files are larger than the API's other bodies.
const DefaultIntakeMaxBody = 32 << 20

// orderAPI holds what the order and intake endpoints need.
type orderAPI struct {
	intake  *intake.Service
	orders  *order.Service
	maxBody int64
	// received counts intake outcomes by channel and outcome (created,
	// updated, duplicate, rejected, refused).
	received *prometheus.CounterVec
	// needsReview counts marketplace orders held for review, by channel
	// and the invariant they break.
	needsReview *prometheus.CounterVec
	// grants issues and checks one-time step-ups; see EnableStepUpGrants.
	grants *order.Grants
	// seconds times intake requests by channel and outcome.
	seconds *prometheus.HistogramVec
}

// EnableOrders serves the intake and order endpoints with these services
// and registers their metrics. Without it those endpoints answer 503.
func (s *Server) EnableOrders(in *intake.Service, orders *order.Service) {
	a := &orderAPI{intake: in, orders: orders, maxBody: DefaultIntakeMaxBody,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordergate_intake_orders_total",
			Help: "Orders delivered to the intake endpoint, by channel and outcome.",
		}, []string{"channel", "outcome"}),
		needsReview: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordergate_intake_needs_review_total",
			Help: "Marketplace orders kept with status needs_review, by channel and broken invariant.",
		}, []string{"channel", "code"}),
		seconds: newIntakeHistogram(),
	}
	s.Metrics.Registry.MustRegister(a.received, a.needsReview, a.seconds)
	s.orders = a
}

// errOrdersOff answers when EnableOrders was not called.
var errOrdersOff = ordergate.Errorf(ordergate.EUNAVAILABLE, "order services are not enabled")

// withOrders wraps a person endpoint of the order API.
func (s *Server) withOrders(h func(http.ResponseWriter, *http.Request, *orderAPI, ordergate.Actor)) http.HandlerFunc {
	return s.requireSession(func(w http.ResponseWriter, r *http.Request, _ *session) {
		if s.orders == nil {
			s.writeError(w, r, errOrdersOff)
			return
		}
		actor, _ := ordergate.ActorFrom(r.Context())
		h(w, r, s.orders, actor)
	})
}

// writeOrderError is writeError plus the RFC 9470 WWW-Authenticate header
// of a step-up answer.
func (s *Server) writeOrderError(w http.ResponseWriter, r *http.Request, err error) {
	var e *ordergate.Error
	if errors.As(err, &e) && e.Code == ordergate.ESTEPUP {
		maxAge := 0
		if req, ok := e.Details["required"].(map[string]any); ok {
			maxAge, _ = req["max_age"].(int)
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_user_authentication", max_age=%d`, maxAge))
	}
	s.writeError(w, r, err)
}

func (s *Server) handleOrderCreate(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	var d order.Draft
	if err := decodeJSON(r, &d); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := a.orders.Create(r.Context(), actor, &d)
	if err != nil {
		s.writeOrderError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) handleOrderList(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	q := r.URL.Query()
	f := order.Filter{Status: order.Status(q.Get("status")), Channel: q.Get("channel"), Q: q.Get("q"), Cursor: q.Get("cursor")}
	var err error
	if f.Since, err = querySince(q, time.Time{}); err == nil {
		f.Limit, err = queryLimit(q, 0, 500)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, next, err := a.orders.List(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []*order.Order{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": list, "next": next})
}

func (s *Server) handleOrderGet(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	o, err := a.orders.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) handleOrderPatch(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	var p struct {
		order.Patch
		StepUpID string `json:"step_up_id"`
	}
	if err := decodeJSON(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := a.orders.Update(withStepUpID(r, p.StepUpID), actor, r.PathValue("id"), &p.Patch)
	if err != nil {
		s.writeOrderError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) handleOrderCancel(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	var req struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	o, err := a.orders.Cancel(r.Context(), actor, r.PathValue("id"), req.Reason)
	if err != nil {
		s.writeOrderError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// handleOrderApprove signs an order. The step-up check (order.StepUp,
// configured by the approvals: rules) runs inside Service.Approve and
// answers 401 insufficient_user_authentication as API.md shows. A
// one-time step-up grant comes in the header X-Step-Up or the body
// {"step_up_id"}.
func (s *Server) handleOrderApprove(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	var req struct {
		StepUpID string `json:"step_up_id"`
	}
	if err := optionalJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := a.orders.Approve(withStepUpID(r, req.StepUpID), actor, r.PathValue("id"))
	if err != nil {
		s.writeOrderError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) handleOrderAudit(w http.ResponseWriter, r *http.Request, a *orderAPI, actor ordergate.Actor) {
	q := r.URL.Query()
	var before int64
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.writeError(w, r, ordergate.FieldError(ordergate.EINVALID, "before", "want a sequence number"))
			return
		}
		before = n
	}
	const limit = 100
	evs, err := a.orders.History(r.Context(), r.PathValue("id"), before, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if evs == nil {
		evs = []audit.Event{}
	}
	next := ""
	if len(evs) == limit {
		next = strconv.FormatInt(evs[len(evs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs, "next": next})
}
