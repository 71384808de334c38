package order

import (
	"context"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// Audit actions of order events.
const (
	EventCreated       = "order.created"        // a person entered the order
	EventReceived      = "order.received"       // a channel delivered it
	EventChannelUpdate = "order.channel_update" // a channel delivered changed content
	EventModified      = "order.modified"
	EventCancelled     = "order.cancelled"
	EventApproved      = "order.approved"
)

// Roles the order operations check.
const (
	RoleAdmin    = "admin"
	RoleClerk    = "clerk"
	RoleApprover = "approver"
)

// Filter selects orders for List. Zero fields do not filter.
type Filter struct {
	Status  Status
	Channel string
	// Q matches, case-insensitively, a part of the number, external id,
	// customer name or customer email.
	Q string
	// Since keeps orders taken in at or after this time.
	Since time.Time
	// Cursor continues a listing where the page that returned it ended.
	Cursor string
	// Limit is the page size: 50 when 0, at most 500.
	Limit int
}

// Store keeps orders. Every method that changes an order appends its
// audit event in the same transaction.
type Store interface {
	// CreateOrder gives o a new ID, stores it and ev (whose OrderID it
	// sets). ECONFLICT when an order with the same channel, source and
	// external id exists.
	CreateOrder(ctx context.Context, o *Order, ev audit.Event) error
	// OrderByID returns ENOTFOUND when there is no such order.
	OrderByID(ctx context.Context, id string) (*Order, error)
	// ListOrders returns one page of orders matching f, newest first, and
	// the cursor of the next page ("" after the last). EINVALID for a
	// malformed cursor.
	ListOrders(ctx context.Context, f Filter) ([]*Order, string, error)
	// UpdateOrder reads the order, calls change with it inside the
	// transaction and stores what change left, approvals it added and the
	// event it returned. Errors from change are returned as they are;
	// ENOTFOUND when there is no such order, ECONFLICT when it changed
	// meanwhile or an approver signs twice.
	UpdateOrder(ctx context.Context, id string, change func(o *Order) (audit.Event, error)) (*Order, error)
	// AuditEvents returns audit events matching f, newest first.
	AuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error)
}

// Service runs the operations people perform on orders: manual entry,
// listing, modification, cancellation and approval.
type Service struct {
	Store Store
	Clock ordergate.Clock
	// Rules are the step-up rules (approvals: in the configuration).
	Rules []Rule
	// StepUp checks the second factor that Rules demand.
	StepUp StepUp
	// Risk, when set, weighs each approval against the approver's past
	// approvals and may demand a fresh or stronger second factor.
	Risk Risk
}

// NewService returns a Service with the FreshFactor step-up check.
func NewService(store Store, clock ordergate.Clock, rules []Rule) *Service {
	return &Service{Store: store, Clock: clock, Rules: rules, StepUp: FreshFactor{Clock: clock}}
}

func requireRole(actor ordergate.Actor, roles ...string) error {
	if actor.Kind != ordergate.ActorUser || actor.ID == "" {
		return ordergate.Errorf(ordergate.EUNAUTHORIZED, "sign in first")
	}
	for _, r := range roles {
		if actor.HasRole(r) {
			return nil
		}
	}
	return ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role %s", joinOr(roles))
}

func joinOr(roles []string) string {
	s := ""
	for i, r := range roles {
		switch {
		case i == 0:
		case i == len(roles)-1:
			s += " or "
		default:
			s += ", "
		}
		s += r
	}
	return s
}

// event returns an order event by actor.
func (s *Service) event(action string, actor ordergate.Actor, data map[string]any) audit.Event {
	return audit.Event{At: s.Clock.Now(), Action: action, Outcome: audit.OutcomeOK, Actor: actor, Data: data}
}

// Create takes in an order a person entered. It needs the role clerk or
// admin; totals left out are computed and given ones must add up (else
// EUNPROCESSABLE naming each broken invariant).
func (s *Service) Create(ctx context.Context, actor ordergate.Actor, d *Draft) (*Order, error) {
	if err := requireRole(actor, RoleClerk, RoleAdmin); err != nil {
		return nil, err
	}
	o := d.Order()
	if vs := Check(o); len(vs) > 0 {
		return nil, ViolationError(vs)
	}
	now := s.Clock.Now()
	o.Source, o.Status = ChannelManual, StatusReceived
	o.CreatedBy, o.ModifiedBy, o.CreatedAt, o.UpdatedAt = actor.ID, actor.ID, now, now
	if o.PlacedAt.IsZero() {
		o.PlacedAt = now
	}
	ev := s.event(EventCreated, actor, map[string]any{"channel": o.Channel, "external_id": o.ExternalID,
		"total": o.Total, "currency": o.Currency})
	if err := s.Store.CreateOrder(ctx, o, ev); err != nil {
		return nil, err
	}
	return o, nil
}

// Get returns one order; ENOTFOUND when there is none.
func (s *Service) Get(ctx context.Context, id string) (*Order, error) {
	return s.Store.OrderByID(ctx, id)
}

// List returns a page of orders and the next page's cursor.
func (s *Service) List(ctx context.Context, f Filter) ([]*Order, string, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", ordergate.FieldError(ordergate.EINVALID, "status", "unknown status")
	}
	return s.Store.ListOrders(ctx, f)
}

// History returns an order's audit events, newest first, before the
// sequence number before (0 for the newest).
func (s *Service) History(ctx context.Context, id string, before int64, limit int) ([]audit.Event, error) {
	if _, err := s.Store.OrderByID(ctx, id); err != nil {
		return nil, err
	}
	return s.Store.AuditEvents(ctx, audit.Filter{OrderID: id, Before: before, Limit: limit})
}

// Patch is a change a person makes to an order; nil fields stay as they
// are. When Lines change, the order's discount and tax totals are
// recomputed from the lines unless the patch gives them.
type Patch struct {
	Number            *string      `json:"number"`
	Customer          *Customer    `json:"customer"`
	BillingAddress    *Address     `json:"billing_address"`
	ShippingAddress   *Address     `json:"shipping_address"`
	Lines             *[]DraftLine `json:"lines"`
	ShippingTotal     *int64       `json:"shipping_total"`
	DiscountTotal     *int64       `json:"discount_total"`
	TaxTotal          *int64       `json:"tax_total"`
	PaymentStatus     *string      `json:"payment_status"`
	FulfillmentStatus *string      `json:"fulfillment_status"`
	Terms             *Terms       `json:"terms"`
	// Status moves the order along the state machine (to
	// pending_approval, received or fulfilled); approving and cancelling
	// have their own operations.
	Status *Status `json:"status"`
}

// apply changes o by p and reports whether amounts changed.
func (p *Patch) apply(o *Order) bool {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&o.Number, p.Number)
	set(&o.PaymentStatus, p.PaymentStatus)
	set(&o.FulfillmentStatus, p.FulfillmentStatus)
	if p.Customer != nil {
		o.Customer = *p.Customer
	}
	if p.BillingAddress != nil {
		o.BillingAddress = *p.BillingAddress
	}
	if p.ShippingAddress != nil {
		o.ShippingAddress = *p.ShippingAddress
	}
	if p.Terms != nil {
		o.Terms = *p.Terms
	}
	amounts := p.Lines != nil || p.ShippingTotal != nil || p.DiscountTotal != nil || p.TaxTotal != nil
	if !amounts {
		return false
	}
	d := Draft{Currency: o.Currency, ShippingTotal: &o.ShippingTotal, DiscountTotal: p.DiscountTotal, TaxTotal: p.TaxTotal}
	if p.ShippingTotal != nil {
		d.ShippingTotal = p.ShippingTotal
	}
	if p.Lines != nil {
		d.Lines = *p.Lines
	} else {
		for _, l := range o.Lines {
			d.Lines = append(d.Lines, DraftLine{SKU: l.SKU, Title: l.Title, Quantity: l.Quantity,
				UnitPrice: l.UnitPrice, Discount: l.Discount, Tax: l.Tax})
		}
		if d.DiscountTotal == nil {
			d.DiscountTotal = &o.DiscountTotal
		}
		if d.TaxTotal == nil {
			d.TaxTotal = &o.TaxTotal
		}
	}
	c := d.Order()
	o.Lines, o.Subtotal, o.DiscountTotal, o.ShippingTotal, o.TaxTotal, o.Total =
		c.Lines, c.Subtotal, c.DiscountTotal, c.ShippingTotal, c.TaxTotal, c.Total
	return true
}

// Update changes an order as p says and records the fields before and
// after in the audit event. It needs the role clerk or admin; changing
// contract terms needs the step-up of the order.modify_terms rule. A
// change that breaks an invariant the order kept is EUNPROCESSABLE; a
// status the state machine does not allow is ECONFLICT naming the
// current status.
func (s *Service) Update(ctx context.Context, actor ordergate.Actor, id string, p *Patch) (*Order, error) {
	if err := requireRole(actor, RoleClerk, RoleAdmin); err != nil {
		return nil, err
	}
	if p.Status != nil && (*p.Status == StatusApproved || *p.Status == StatusCancelled) {
		return nil, ordergate.FieldError(ordergate.EINVALID, "status", "approve or cancel the order with its own operation")
	}
	cur, err := s.Store.OrderByID(ctx, id)
	if err != nil {
		return nil, err
	}
	var evidence map[string]any
	if p.Terms != nil && *p.Terms != cur.Terms {
		if evidence, err = s.stepUp(ctx, actor, ActionModifyTerms, cur); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, ActionModifyTerms, cur, evidence, func(o *Order) (audit.Event, error) {
		before := clone(o)
		if o.Status.Final() {
			return audit.Event{}, &ordergate.Error{Code: ordergate.ECONFLICT,
				Message: "order is " + string(o.Status) + "; it can no longer be changed",
				Details: map[string]any{"status": string(o.Status)}}
		}
		p.apply(o)
		if p.Status != nil && *p.Status != o.Status {
			if err := o.Move(*p.Status); err != nil {
				return audit.Event{}, err
			}
		}
		if added := newViolations(Check(before), Check(o)); len(added) > 0 {
			return audit.Event{}, ViolationError(added)
		}
		o.ModifiedBy, o.UpdatedAt = actor.ID, s.Clock.Now()
		data := map[string]any{"changes": Diff(before, o)}
		if evidence != nil {
			data["step_up"] = evidence
		}
		return s.event(EventModified, actor, data), nil
	})
}

// newViolations returns the violations in after that before did not have.
func newViolations(before, after []Violation) []Violation {
	var out []Violation
	for _, v := range after {
		if !slices.ContainsFunc(before, func(b Violation) bool { return b.Code == v.Code && b.Field == v.Field }) {
			out = append(out, v)
		}
	}
	return out
}

func clone(o *Order) *Order {
	c := *o
	c.Lines = slices.Clone(o.Lines)
	c.Warnings = slices.Clone(o.Warnings)
	c.Approvals = slices.Clone(o.Approvals)
	return &c
}

// Cancel cancels an order that is not in a final status (else ECONFLICT
// naming the status). It needs the role clerk, approver or admin.
func (s *Service) Cancel(ctx context.Context, actor ordergate.Actor, id, reason string) (*Order, error) {
	if err := requireRole(actor, RoleClerk, RoleApprover, RoleAdmin); err != nil {
		return nil, err
	}
	return s.Store.UpdateOrder(ctx, id, func(o *Order) (audit.Event, error) {
		from := o.Status
		if err := o.Move(StatusCancelled); err != nil {
			return audit.Event{}, err
		}
		o.ModifiedBy, o.UpdatedAt = actor.ID, s.Clock.Now()
		return s.event(EventCancelled, actor, map[string]any{"from": from, "reason": reason}), nil
	})
}

// Approve signs an order pending approval. It needs the role approver;
// the person who created or last modified the order cannot approve it
// (EFORBIDDEN, four eyes); above a rule's amount it needs a fresh second
// factor (ESTEPUP); an order not pending approval is ECONFLICT naming its
// status. The order becomes approved when the last of the approvers the
// rules demand has signed.
func (s *Service) Approve(ctx context.Context, actor ordergate.Actor, id string) (*Order, error) {
	if err := requireRole(actor, RoleApprover); err != nil {
		return nil, err
	}
	cur, err := s.Store.OrderByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := fourEyes(actor, cur); err != nil {
		return nil, err
	}
	if cur.Status != StatusPendingApproval {
		return nil, cur.clone().Move(StatusApproved)
	}
	// Before the step-up, which may spend a one-time grant.
	reasons, err := s.checkRisk(ctx, actor, ActionApprove, cur)
	if err != nil {
		return nil, err
	}
	evidence, err := s.stepUp(ctx, actor, ActionApprove, cur)
	if err != nil {
		return nil, err
	}
	if len(reasons) > 0 {
		evidence["risk_reasons"] = reasons
	}
	required := 1
	for _, r := range s.Rules {
		if r.Applies(ActionApprove, cur) && r.Approvers > required {
			required = r.Approvers
		}
	}
	return s.update(ctx, ActionApprove, cur, evidence, func(o *Order) (audit.Event, error) {
		if err := fourEyes(actor, o); err != nil {
			return audit.Event{}, err
		}
		if o.Status != StatusPendingApproval {
			return audit.Event{}, o.Move(StatusApproved)
		}
		if o.Total != cur.Total || o.Currency != cur.Currency {
			return audit.Event{}, ordergate.Errorf(ordergate.ECONFLICT, "the order changed meanwhile; look at it again")
		}
		for _, a := range o.Approvals {
			if a.UserID == actor.ID {
				return audit.Event{}, ordergate.Errorf(ordergate.ECONFLICT, "you have already approved this order")
			}
		}
		now := s.Clock.Now()
		o.Approvals = append(o.Approvals, Approval{UserID: actor.ID, UserName: actor.Name, At: now, Evidence: evidence})
		if len(o.Approvals) >= required {
			if err := o.Move(StatusApproved); err != nil {
				return audit.Event{}, err
			}
		}
		o.UpdatedAt = now
		return s.event(EventApproved, actor, map[string]any{"approvals": len(o.Approvals), "required": required,
			"status": o.Status, "total": o.Total, "currency": o.Currency, "step_up": evidence}), nil
	})
}

func (o *Order) clone() *Order { return clone(o) }

// fourEyes refuses an approver who created or last modified o.
func fourEyes(actor ordergate.Actor, o *Order) error {
	if actor.ID == o.CreatedBy || actor.ID == o.ModifiedBy {
		return ordergate.Errorf(ordergate.EFORBIDDEN, "four eyes: you created or last modified this order, so someone else must approve it")
	}
	return nil
}

// stepUp runs the StepUp check of every rule that governs action on o
// and returns the evidence, which always holds the actor's
// authentication context.
func (s *Service) stepUp(ctx context.Context, actor ordergate.Actor, action string, o *Order) (map[string]any, error) {
	evidence := map[string]any{"aal": actor.Auth.AAL, "amr": actor.Auth.AMR, "session_id": actor.Auth.SessionID,
		"client_ip": actor.Auth.ClientIP}
	if t := actor.Auth.SecondFactorAt(); !t.IsZero() {
		evidence["second_factor_at"] = t
	}
	for _, r := range s.Rules {
		if !r.Applies(action, o) {
			continue
		}
		if s.StepUp == nil {
			return nil, StepUpRequired(r)
		}
		ev, err := s.StepUp.Check(ctx, actor, r, o)
		if err != nil {
			return nil, err
		}
		for k, v := range ev {
			evidence[k] = v
		}
	}
	return evidence, nil
}
