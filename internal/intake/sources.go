package intake

import (
	"context"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// RoleAuditor may read the sources but not change them.
const RoleAuditor = "auditor"

// SourceLister is a Store that lists every source.
type SourceLister interface {
	// Sources returns every source, revoked ones too, by channel and name.
	Sources(ctx context.Context) ([]*Source, error)
}

// Sources returns every registered source for an administrator or an
// auditor (who may read but not change them): EUNAUTHORIZED without a
// person, EFORBIDDEN without either role, EUNAVAILABLE when the store
// cannot list sources.
func (s *Service) Sources(ctx context.Context, actor ordergate.Actor) ([]*Source, error) {
	if actor.Kind != ordergate.ActorUser || actor.ID == "" {
		return nil, ordergate.Errorf(ordergate.EUNAUTHORIZED, "sign in first")
	}
	if !actor.HasRole(order.RoleAdmin) && !actor.HasRole(RoleAuditor) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role admin or auditor")
	}
	l, ok := s.Store.(SourceLister)
	if !ok {
		return nil, ordergate.Errorf(ordergate.EUNAVAILABLE, "this store cannot list sources")
	}
	return l.Sources(ctx)
}
