package intake

import (
	"context"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// SourceLister is a Store that lists every source.
type SourceLister interface {
	// Sources returns every source, revoked ones too, by channel and name.
	Sources(ctx context.Context) ([]*Source, error)
}

// Sources returns every registered source for an administrator:
// EUNAUTHORIZED without a person, EFORBIDDEN without the admin role,
// EUNAVAILABLE when the store cannot list sources.
func (s *Service) Sources(ctx context.Context, actor ordergate.Actor) ([]*Source, error) {
	if actor.Kind != ordergate.ActorUser || actor.ID == "" {
		return nil, ordergate.Errorf(ordergate.EUNAUTHORIZED, "sign in first")
	}
	if !actor.HasRole(order.RoleAdmin) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role admin")
	}
	l, ok := s.Store.(SourceLister)
	if !ok {
		return nil, ordergate.Errorf(ordergate.EUNAVAILABLE, "this store cannot list sources")
	}
	return l.Sources(ctx)
}
