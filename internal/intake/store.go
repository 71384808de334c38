package intake

import (
	"context"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/order"
)

// Source is a registered sender of orders: a shop's webhooks, a partner's
// EDI feed, a CSV upload script. Shopify and WooCommerce sources hold a
// webhook secret, sealed with the keyring because the signature check
// needs it in plaintext; the others hold the SHA-256 of an API key.
type Source struct {
	ID      string
	Channel string
	Name    string
	// SecretHash is the hex SHA-256 of the source's API key, or "".
	SecretHash string
	// SealedSecret is the sealed webhook secret, or nil.
	SealedSecret   []byte
	CreatedAt      time.Time
	LastDeliveryAt time.Time
	// ErrorCount counts deliveries refused for a bad signature or key.
	ErrorCount int
	Revoked    bool
}

// Raw is a delivery's body as it arrived, kept for provenance.
type Raw struct {
	// ID is set by the store on first use and shared by every order of
	// the delivery.
	ID       string
	SourceID string
	// DeliveryID is the channel's id of the delivery (a webhook id), or ""
	// when it sends none.
	DeliveryID  string
	ContentType string
	Body        []byte
	ReceivedAt  time.Time
}

// Ingest is one order of a delivery for the store to take in.
type Ingest struct {
	Raw   *Raw
	Order *order.Order
	// Hash identifies the channel content of Order; a stored order with
	// the same hash makes this delivery a duplicate.
	Hash string
	// Doc is the JSON encoding of Order that Hash sums, before the store
	// set its ID, raw payload and creation time; nil when there is none.
	// A store may keep it as the order's document instead of encoding
	// Order again, with those three fields kept beside it.
	Doc []byte
	// Received is the audit event of a new order.
	Received audit.Event
	// Update merges a delivery with changed content into the stored
	// order, inside the store's transaction, and returns the event to
	// record.
	Update func(stored *order.Order) (audit.Event, error)
}

// Stored is what the store did with an Ingest.
type Stored struct {
	Order *order.Order
	// Created is true for a new order; Updated for changed content; both
	// false for a duplicate delivery.
	Created, Updated bool
}

// Store keeps sources, raw payloads and the orders they deliver.
type Store interface {
	// CreateSource stores src and ev. ECONFLICT when the name is taken.
	CreateSource(ctx context.Context, src *Source, ev audit.Event) error
	// SourceByID returns ENOTFOUND when there is no such source.
	SourceByID(ctx context.Context, id string) (*Source, error)
	// SourcesByChannel returns the channel's sources that are not revoked.
	SourcesByChannel(ctx context.Context, channel string) ([]*Source, error)
	// IngestOrder takes in one delivered order, in one transaction with
	// its raw payload and audit event. An order with the same channel,
	// source and external id is never stored twice, even when deliveries
	// race: the same content is a duplicate, changed content goes
	// through in.Update.
	IngestOrder(ctx context.Context, in Ingest) (Stored, error)
	// RecordIntakeFailure counts a refused delivery against the source
	// (when sourceID is not "") and appends ev.
	RecordIntakeFailure(ctx context.Context, sourceID string, ev audit.Event) error
	PayloadStore
}
