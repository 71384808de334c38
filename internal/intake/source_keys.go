package intake

import (
	"context"
	"crypto/rand"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/order"
)

// Audited actions of source administration.
const (
	EventSourceRotated = "source.rotated"
	EventSourceRevoked = "source.revoked"
)

// SourceKeeper is a Store that can replace and revoke a source's
// credential. Each method writes its change and ev in one transaction.
type SourceKeeper interface {
	// SetSourceSecret replaces the credential of source id: secretHash
	// for an API key, sealed for a webhook secret (the other empty).
	// ENOTFOUND for an unknown source, ECONFLICT for a revoked one.
	SetSourceSecret(ctx context.Context, id, secretHash string, sealed []byte, ev audit.Event) error
	// RevokeSource marks source id revoked, so that it authenticates no
	// more deliveries. ENOTFOUND for an unknown source, ECONFLICT when it
	// was revoked already.
	RevokeSource(ctx context.Context, id string, ev audit.Event) error
}

// sourceAdmin checks that actor may change sources and that the store
// can: EUNAUTHORIZED without a person, EFORBIDDEN without the admin role,
// EUNAVAILABLE when the store cannot.
func (s *Service) sourceAdmin(actor ordergate.Actor) (SourceKeeper, error) {
	if actor.Kind != ordergate.ActorUser || actor.ID == "" {
		return nil, ordergate.Errorf(ordergate.EUNAUTHORIZED, "sign in first")
	}
	if !actor.HasRole(order.RoleAdmin) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role admin")
	}
	k, ok := s.Store.(SourceKeeper)
	if !ok {
		return nil, ordergate.Errorf(ordergate.EUNAVAILABLE, "this store cannot change sources")
	}
	return k, nil
}

// RotateSource gives source id a new credential and returns the source
// with it, shown this once: a new random webhook secret for Shopify and
// WooCommerce (to be set in the shop as well), a new API key for the
// others. The old one stops working at once. ENOTFOUND for an unknown
// source, ECONFLICT for a revoked one.
func (s *Service) RotateSource(ctx context.Context, actor ordergate.Actor, id string) (*Source, string, error) {
	k, err := s.sourceAdmin(actor)
	if err != nil {
		return nil, "", err
	}
	src, err := s.Store.SourceByID(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if src.Revoked {
		return nil, "", ordergate.Errorf(ordergate.ECONFLICT, "the source is revoked; add a new one")
	}
	var secret, hash string
	var sealed []byte
	if webhookChannel(src.Channel) {
		secret = rand.Text() + rand.Text()
		if sealed, err = s.Keys.Seal([]byte(secret), []byte("source:"+src.ID)); err != nil {
			return nil, "", err
		}
	} else {
		secret = "ogk_" + src.ID + "_" + rand.Text()
		hash = hashKey(secret)
	}
	ev := audit.Event{At: s.Clock.Now(), Action: EventSourceRotated, Outcome: audit.OutcomeOK, Actor: actor,
		Data: map[string]any{"source_id": src.ID, "channel": src.Channel, "name": src.Name}}
	if err := k.SetSourceSecret(ctx, src.ID, hash, sealed, ev); err != nil {
		return nil, "", err
	}
	src.SecretHash, src.SealedSecret = hash, sealed
	s.Log.Info("source credential rotated", "event", EventSourceRotated, "user_id", actor.ID, "source_id", src.ID)
	return src, secret, nil
}

// RevokeSource revokes source id: its deliveries are refused from now on.
// ENOTFOUND for an unknown source, ECONFLICT when revoked already.
func (s *Service) RevokeSource(ctx context.Context, actor ordergate.Actor, id string) error {
	k, err := s.sourceAdmin(actor)
	if err != nil {
		return err
	}
	src, err := s.Store.SourceByID(ctx, id)
	if err != nil {
		return err
	}
	ev := audit.Event{At: s.Clock.Now(), Action: EventSourceRevoked, Outcome: audit.OutcomeOK, Actor: actor,
		Data: map[string]any{"source_id": src.ID, "channel": src.Channel, "name": src.Name}}
	if err := k.RevokeSource(ctx, src.ID, ev); err != nil {
		return err
	}
	s.Log.Info("source revoked", "event", EventSourceRevoked, "user_id", actor.ID, "source_id", src.ID)
	return nil
}
