package order

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// EventStepUpGranted is the audit action of a new one-time step-up grant.
const EventStepUpGranted = "step_up.granted"

// EvidenceStepUpID is the evidence key naming the one-time grant an
// action consumes; Service consumes the grant it names in the
// transaction that performs the action.
const EvidenceStepUpID = "step_up_id"

// DefaultGrantLifetime is how long a grant lives when no rule with a
// max_age governs its action on the order.
const DefaultGrantLifetime = 5 * time.Minute

// Grant is a one-time step-up: a second factor proven for one action on
// one order, as the order stood (its Digest), by one session. The action
// consumes it, so a code proven once signs once.
type Grant struct {
	ID        string
	SessionID string
	UserID    string
	Action    string
	OrderID   string
	// Digest binds the grant to the order's id, total and currency.
	Digest string
	// Method is the second factor proven: totp, sms, backup_code or
	// webauthn.
	Method string
	// Evidence is kept with the action, e.g. a WebAuthn assertion receipt.
	Evidence  map[string]any
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the action consumed the grant; zero while unused.
	UsedAt time.Time
}

// GrantStore keeps step-up grants.
type GrantStore interface {
	// OrderByID returns ENOTFOUND when there is no such order.
	OrderByID(ctx context.Context, id string) (*Order, error)
	// CreateGrant stores g and ev in one transaction.
	CreateGrant(ctx context.Context, g *Grant, ev audit.Event) error
	// GrantByID returns ENOTFOUND when there is no such grant.
	GrantByID(ctx context.Context, id string) (*Grant, error)
	// LatestGrant returns the session's newest unused grant for action on
	// the order; ENOTFOUND when there is none.
	LatestGrant(ctx context.Context, sessionID, action, orderID string) (*Grant, error)
	// UpdateOrderConsumingGrant is Store.UpdateOrder that also consumes
	// the grant in the same transaction: ESTEPUP, and nothing changed,
	// when the grant is used, expired, or not for this action or for the
	// order as it stands.
	UpdateOrderConsumingGrant(ctx context.Context, id, grantID, action string, change func(o *Order) (audit.Event, error)) (*Order, error)
}

// Digest returns the hex SHA-256 of the order's id, total and currency,
// what a step-up for an action on it is bound to.
func Digest(o *Order) string {
	h := sha256.Sum256([]byte(o.ID + "\x00" + strconv.FormatInt(o.Total, 10) + "\x00" + o.Currency))
	return hex.EncodeToString(h[:])
}

// Counterparty names whom the order is with: the billing company, else the
// customer's name, else the shipping company or name.
func Counterparty(o *Order) string {
	for _, s := range []string{o.BillingAddress.Company, o.Customer.Name, o.ShippingAddress.Company, o.ShippingAddress.Name} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

type stepUpIDKey struct{}

// WithStepUpID returns a context carrying the one-time step-up grant id a
// request presents (header X-Step-Up or a step_up_id field).
func WithStepUpID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, stepUpIDKey{}, id)
}

// StepUpIDFrom returns the grant id ctx carries, or "".
func StepUpIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(stepUpIDKey{}).(string)
	return id
}

// Grants is the StepUp that accepts only a one-time grant issued for the
// very action and order (id, total, currency) by the actor's session, no
// older than the rule's max_age, and of one of the rule's methods. The
// TOTP and SMS step-up endpoint issues grants with Issue; a WebAuthn
// step-up whose challenge covered the order issues one with its
// assertion receipt as evidence.
type Grants struct {
	Store GrantStore
	Clock ordergate.Clock
	// Rules are the approvals: rules; they set a grant's lifetime.
	Rules []Rule
}

var _ StepUp = (*Grants)(nil)

// NewGrants returns Grants over store for rules.
func NewGrants(store GrantStore, clock ordergate.Clock, rules []Rule) *Grants {
	return &Grants{Store: store, Clock: clock, Rules: rules}
}

// GrantActions are the actions a step-up grant may be issued for.
var GrantActions = []string{ActionApprove, ActionModifyTerms}

// Issue records a grant for actor's session to perform action on the
// order orderID, after the caller verified a second factor of method.
// The grant lives for the shortest max_age of the rules that govern the
// action on the order (DefaultGrantLifetime when none has one). EINVALID
// for an action that takes no grant, ENOTFOUND for an unknown order,
// EUNAUTHORIZED without a session.
func (g *Grants) Issue(ctx context.Context, actor ordergate.Actor, method, action, orderID string, evidence map[string]any) (*Grant, error) {
	if actor.Kind != ordergate.ActorUser || actor.ID == "" || actor.Auth.SessionID == "" {
		return nil, ordergate.Errorf(ordergate.EUNAUTHORIZED, "sign in first")
	}
	if !slices.Contains(GrantActions, action) {
		return nil, ordergate.FieldError(ordergate.EINVALID, "action", "must be one of "+strings.Join(GrantActions, ", "))
	}
	o, err := g.Store.OrderByID(ctx, orderID)
	if err != nil {
		return nil, err
	}
	life := time.Duration(0)
	for _, r := range g.Rules {
		if r.Applies(action, o) && r.MaxAge > 0 && (life == 0 || r.MaxAge < life) {
			life = r.MaxAge
		}
	}
	if life == 0 {
		life = DefaultGrantLifetime
	}
	now := g.Clock.Now()
	gr := &Grant{ID: "sug_" + strings.ToLower(rand.Text()[:20]), SessionID: actor.Auth.SessionID, UserID: actor.ID,
		Action: action, OrderID: o.ID, Digest: Digest(o), Method: method, Evidence: evidence,
		CreatedAt: now, ExpiresAt: now.Add(life)}
	ev := audit.Event{At: now, Action: EventStepUpGranted, Outcome: audit.OutcomeOK, Actor: actor, SubjectID: actor.ID,
		OrderID: o.ID, Data: map[string]any{EvidenceStepUpID: gr.ID, "action": action, "method": method,
			"total": o.Total, "currency": o.Currency, "expires_at": gr.ExpiresAt}}
	if err := g.Store.CreateGrant(ctx, gr, ev); err != nil {
		return nil, err
	}
	return gr, nil
}

// Check implements StepUp: the request's grant (StepUpIDFrom, else the
// session's newest unused one for the action on the order) must be
// unused, unexpired, the actor's session's, for rule.Action on o as it
// stands now, and of one of rule.Methods. It does not consume the grant;
// Service does, in the transaction that performs the action.
func (g *Grants) Check(ctx context.Context, actor ordergate.Actor, rule Rule, o *Order) (map[string]any, error) {
	var gr *Grant
	var err error
	if id := StepUpIDFrom(ctx); id != "" {
		gr, err = g.Store.GrantByID(ctx, id)
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			return nil, StepUpRequiredFor(rule, o, "unknown")
		}
	} else {
		// A client that steps up and repeats the request as it was (the
		// RFC 9470 flow) presents no grant: the session's newest unused
		// grant for this action on this order is the one it earned.
		gr, err = g.Store.LatestGrant(ctx, actor.Auth.SessionID, rule.Action, o.ID)
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			return nil, StepUpRequiredFor(rule, o, "")
		}
	}
	if err != nil {
		return nil, err
	}
	now := g.Clock.Now()
	var reason string
	switch {
	case gr.UserID != actor.ID || gr.SessionID != actor.Auth.SessionID:
		reason = "other_session"
	case gr.Action != rule.Action:
		reason = "other_action"
	case gr.OrderID != o.ID || gr.Digest != Digest(o):
		reason = "other_order"
	case !gr.UsedAt.IsZero():
		reason = "used"
	case now.After(gr.ExpiresAt) || (rule.MaxAge > 0 && now.Sub(gr.CreatedAt) > rule.MaxAge):
		reason = "expired"
	case !slices.Contains(rule.Methods, gr.Method):
		reason = "method"
	}
	if reason != "" {
		return nil, StepUpRequiredFor(rule, o, reason)
	}
	ev := map[string]any{"rule": rule.Action, "method": gr.Method, "second_factor_at": gr.CreatedAt,
		EvidenceStepUpID: gr.ID, "order_digest": gr.Digest}
	for k, v := range gr.Evidence {
		ev[k] = v
	}
	return ev, nil
}

// StepUpRequiredFor is StepUpRequired with what the prompt shows: the
// action, the order, its amount (minor units and formatted), currency and
// counterparty; reason, when set, says why a presented grant was refused
// (unknown, used, expired, other_session, other_action, other_order,
// method).
func StepUpRequiredFor(rule Rule, o *Order, reason string) *ordergate.Error {
	e := StepUpRequired(rule)
	req := e.Details["required"].(map[string]any)
	req["action"] = rule.Action
	req["order_id"] = o.ID
	req["number"] = o.Number
	req["amount"] = o.Total
	req["currency"] = o.Currency
	req["amount_text"] = FormatAmount(o.Total, o.Currency) + " " + o.Currency
	req["counterparty"] = Counterparty(o)
	if reason != "" {
		e.Details["reason"] = reason
		e.Message = "this action needs a new second factor"
	}
	return e
}

// update stores change like Store.UpdateOrder and, when evidence names a
// one-time grant, consumes it in the same transaction. A grant consumed
// meanwhile answers the step-up error for action on cur again.
func (s *Service) update(ctx context.Context, action string, cur *Order, evidence map[string]any, change func(o *Order) (audit.Event, error)) (*Order, error) {
	gid, _ := evidence[EvidenceStepUpID].(string)
	if gid == "" {
		return s.Store.UpdateOrder(ctx, cur.ID, change)
	}
	gs, ok := s.Store.(GrantStore)
	if !ok {
		return nil, ordergate.Errorf(ordergate.EINTERNAL, "the order store cannot consume step-up grants")
	}
	o, err := gs.UpdateOrderConsumingGrant(ctx, cur.ID, gid, action, change)
	if ordergate.ErrorCode(err) == ordergate.ESTEPUP {
		for _, r := range s.Rules {
			if r.Applies(action, cur) {
				return nil, StepUpRequiredFor(r, cur, "used")
			}
		}
	}
	return o, err
}
