package order

import (
	"context"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
)

// Actions that approval rules govern.
const (
	ActionApprove     = "order.approve"
	ActionModifyTerms = "order.modify_terms"
)

// Rule is a step-up rule for an order action, the domain form of one
// entry of the approvals: configuration.
type Rule struct {
	Action string
	// Above maps a currency to the total (minor units) above which the
	// rule applies. Empty means the rule always applies. An order in a
	// currency the map does not list is held to the rule too: an amount
	// that cannot be compared is treated as large.
	Above map[string]int64
	// Methods are the second factors that satisfy the rule ("webauthn",
	// "totp", "sms", "backup_code").
	Methods []string
	// MaxAge is how long ago the second factor may have been proven.
	MaxAge time.Duration
	// Approvers is how many distinct approvers the order needs; 0 means 1.
	Approvers int
}

// Applies reports whether r governs action on o.
func (r Rule) Applies(action string, o *Order) bool {
	if r.Action != action {
		return false
	}
	if len(r.Above) == 0 {
		return true
	}
	limit, ok := r.Above[o.Currency]
	return !ok || o.Total > limit
}

// StepUp decides whether the actor's authentication is fresh and strong
// enough for an action a rule governs. The TOTP and WebAuthn step-up
// endpoints plug in here: an implementation may also consume a one-time
// step-up bound to this action and order.
type StepUp interface {
	// Check returns the evidence to keep with the action when actor may
	// perform rule.Action on o now, and an ESTEPUP *ordergate.Error whose
	// Details hold "required" ({"methods", "max_age"} in seconds) when a
	// fresher second factor is needed.
	Check(ctx context.Context, actor ordergate.Actor, rule Rule, o *Order) (map[string]any, error)
}

// FreshFactor is the StepUp that accepts a second factor of one of the
// rule's methods proven in the session no longer than MaxAge ago.
type FreshFactor struct {
	Clock ordergate.Clock
}

// amrMethods maps authentication method references to the method names
// of the configuration.
var amrMethods = map[string]string{
	ordergate.AMROTP:      "totp",
	ordergate.AMRSMS:      "sms",
	ordergate.AMRHardware: "webauthn",
	ordergate.AMRSoftware: "webauthn",
	ordergate.AMRBackup:   "backup_code",
}

// Check implements StepUp.
func (f FreshFactor) Check(ctx context.Context, actor ordergate.Actor, rule Rule, o *Order) (map[string]any, error) {
	now := f.Clock.Now()
	var best string
	var at time.Time
	for amr, t := range actor.Auth.FactorTimes {
		m, ok := amrMethods[amr]
		if !ok || !slices.Contains(rule.Methods, m) || t.After(now.Add(time.Minute)) {
			continue
		}
		if rule.MaxAge > 0 && now.Sub(t) > rule.MaxAge {
			continue
		}
		if t.After(at) {
			best, at = m, t
		}
	}
	if best == "" {
		return nil, StepUpRequired(rule)
	}
	return map[string]any{"rule": rule.Action, "method": best, "second_factor_at": at}, nil
}

// StepUpRequired is the ESTEPUP error for rule, with the body API.md
// gives: {"required": {"methods": [...], "max_age": seconds}}.
func StepUpRequired(rule Rule) *ordergate.Error {
	methods := rule.Methods
	if methods == nil {
		methods = []string{}
	}
	return &ordergate.Error{Code: ordergate.ESTEPUP,
		Message: "this action needs a recent second factor",
		Details: map[string]any{"required": map[string]any{"methods": methods, "max_age": int(rule.MaxAge / time.Second)}}}
}
