package auth

import (
	"context"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/risk"
)

// ActionRiskMaxAge is how recently the second factor that a risky order
// action demands must have been proven.
const ActionRiskMaxAge = 5 * time.Minute

// CheckAction weighs actor's action on amount against the actor's past
// amounts (AssessAction, which records the decision) and enforces the
// decision; it implements order.Risk. A second_factor decision needs
// WebAuthn, TOTP or SMS proven within ActionRiskMaxAge, a
// phishing_resistant one WebAuthn: ESTEPUP otherwise, with the reasons
// in the details. A deny is EFORBIDDEN with the reasons. It returns the
// reasons to keep with the action.
func (s *Service) CheckAction(ctx context.Context, actor ordergate.Actor, action string, amount int64, past []int64) ([]string, error) {
	a, err := s.AssessAction(ctx, actor, action, amount, past)
	if err != nil {
		return nil, err
	}
	reasons := a.Reasons()
	var methods []string
	switch a.Decision {
	case risk.Deny:
		s.Log.Warn("order action denied by risk", "event", "risk.action_denied", "user_id", actor.ID, "action", action, "reasons", reasons)
		return reasons, &ordergate.Error{Code: ordergate.EFORBIDDEN, Message: "this action is refused from here; ask another approver",
			Details: map[string]any{"reasons": reasons}}
	case risk.PhishingResistant:
		methods = []string{MethodWebAuthn}
	case risk.SecondFactor:
		methods = []string{MethodWebAuthn, MethodTOTP, MethodSMS}
	default:
		return reasons, nil
	}
	if err := s.RequireFresh(actor.Auth, methods, ActionRiskMaxAge); err != nil {
		e := *err.(*ordergate.Error)
		e.Message = "this action is unusual for you and needs a fresh second factor"
		e.Details = map[string]any{"required": e.Details["required"], "reasons": reasons}
		return reasons, &e
	}
	return reasons, nil
}
