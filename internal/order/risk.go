package order

import (
	"context"
	"encoding/json"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// Risk weighs an order action against what its actor usually does. The
// risk engine behind the auth service plugs in here.
type Risk interface {
	// CheckAction returns the risk reasons of actor performing action on
	// amount, given the amounts (minor units, same currency) of the
	// actor's past actions of that kind. It returns ESTEPUP when the risk
	// demands a fresher or a phishing-resistant second factor than the
	// actor's session holds, and EFORBIDDEN when the risk denies.
	CheckAction(ctx context.Context, actor ordergate.Actor, action string, amount int64, past []int64) ([]string, error)
}

// RiskHistory is how many of an approver's past approvals the unusual
// amount signal compares with.
const RiskHistory = 100

// checkRisk runs the Risk check of actor performing action on o and
// returns its reasons (nil when there is no Risk or nothing unusual).
func (s *Service) checkRisk(ctx context.Context, actor ordergate.Actor, action string, o *Order) ([]string, error) {
	if s.Risk == nil {
		return nil, nil
	}
	past, err := s.pastAmounts(ctx, actor.ID, o.Currency)
	if err != nil {
		return nil, err
	}
	return s.Risk.CheckAction(ctx, actor, action, o.Total, past)
}

// pastAmounts returns the totals in currency of the last RiskHistory
// approvals actorID signed, newest first, from the audit log.
func (s *Service) pastAmounts(ctx context.Context, actorID, currency string) ([]int64, error) {
	evs, err := s.Store.AuditEvents(ctx, audit.Filter{ActorID: actorID, Action: EventApproved, Limit: RiskHistory})
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range evs {
		if c, _ := e.Data["currency"].(string); c != currency {
			continue
		}
		switch v := e.Data["total"].(type) {
		case json.Number:
			if n, err := v.Int64(); err == nil {
				out = append(out, n)
			}
		case float64:
			out = append(out, int64(v))
		case int64:
			out = append(out, v)
		}
	}
	return out, nil
}
