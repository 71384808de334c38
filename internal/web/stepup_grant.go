package web

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/order"
)

// One-time step-up grants for order actions. A step-up (POST
// /api/v1/step-up with a code, or the WebAuthn step-up whose challenge
// covered the order) that names an order action and order_id answers
// {"step_up_id"}; the approval or terms change presents it in the header
// X-Step-Up (or the body field step_up_id) and consumes it.

// StepUpHeader is the request header that presents a step-up grant.
const StepUpHeader = "X-Step-Up"

// EnableStepUpGrants makes order step-ups issue one-time grants from g
// and order requests present them. Call it after EnableOrders; g is
// normally also the order service's StepUp.
func (s *Server) EnableStepUpGrants(g *order.Grants) {
	if s.orders != nil {
		s.orders.grants = g
	}
}

// grantsOn returns the grants in use, or nil.
func (s *Server) grantsOn() *order.Grants {
	if s.orders == nil {
		return nil
	}
	return s.orders.grants
}

// issueStepUpGrant records a grant for the session next (the session as it
// stands after the step-up) when action is an order action and orderID is
// set, and returns its id; "" when no grant applies.
func (s *Server) issueStepUpGrant(ctx context.Context, u *auth.User, next *auth.Session, method, action, orderID string, evidence map[string]any) (string, error) {
	g := s.grantsOn()
	if g == nil || orderID == "" || !slices.Contains(order.GrantActions, action) {
		return "", nil
	}
	gr, err := g.Issue(ctx, auth.UserActor(u, next), method, action, orderID, evidence)
	if err != nil {
		return "", err
	}
	return gr.ID, nil
}

// checkStepUpGrantTarget refuses, before any code is verified and spent,
// a step-up naming an order that no grant could be issued for: an action
// that takes no grant (EINVALID naming action) or an unknown order
// (ENOTFOUND). Without grants or without an order it checks nothing.
func (s *Server) checkStepUpGrantTarget(ctx context.Context, action, orderID string) error {
	g := s.grantsOn()
	if g == nil || orderID == "" {
		return nil
	}
	if !slices.Contains(order.GrantActions, action) {
		return ordergate.FieldError(ordergate.EINVALID, "action", "with order_id, must be one of "+strings.Join(order.GrantActions, ", "))
	}
	_, err := g.Store.OrderByID(ctx, orderID)
	return err
}

// withStepUpID returns r's context carrying the grant the request
// presents: the X-Step-Up header, else body (a step_up_id field).
func withStepUpID(r *http.Request, body string) context.Context {
	id := strings.TrimSpace(r.Header.Get(StepUpHeader))
	if id == "" {
		id = strings.TrimSpace(body)
	}
	if id == "" {
		return r.Context()
	}
	return order.WithStepUpID(r.Context(), id)
}

// stepUpRequired reports whether err asks for a step-up and returns what
// it requires.
func stepUpRequired(err error) (map[string]any, bool) {
	e, ok := err.(*ordergate.Error)
	if !ok || e.Code != ordergate.ESTEPUP {
		return nil, false
	}
	req, _ := e.Details["required"].(map[string]any)
	return req, true
}
