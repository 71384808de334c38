// Package order is the canonical order model every channel is normalized
// into: amounts in integer minor units of one ISO 4217 currency, the
// invariants every order must keep, and the state machine that governs
// what may happen to an order after it has been taken in.
package order

import "time"

// Status is where an order stands in its life.
type Status string

// Order statuses.
const (
	StatusReceived        Status = "received"
	StatusNeedsReview     Status = "needs_review"
	StatusPendingApproval Status = "pending_approval"
	StatusApproved        Status = "approved"
	StatusFulfilled       Status = "fulfilled"
	StatusCancelled       Status = "cancelled"
)

// Channels an order may come from.
const (
	ChannelShopify     = "shopify"
	ChannelWooCommerce = "woocommerce"
	ChannelAmazon      = "amazon"
	ChannelEDI850      = "edi850"
	ChannelCSV         = "csv"
	ChannelManual      = "manual"
)

// Order is the canonical order. Every amount is an integer count of the
// currency's minor units (cents for USD, yen for JPY, fils for KWD).
type Order struct {
	ID         string `json:"id"`
	Channel    string `json:"channel"`
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
	Number     string `json:"number"`
	Status     Status `json:"status"`
	Currency   string `json:"currency"`

	Customer        Customer `json:"customer"`
	BillingAddress  Address  `json:"billing_address"`
	ShippingAddress Address  `json:"shipping_address"`
	Lines           []Line   `json:"lines"`

	Subtotal      int64 `json:"subtotal"`
	DiscountTotal int64 `json:"discount_total"`
	ShippingTotal int64 `json:"shipping_total"`
	TaxTotal      int64 `json:"tax_total"`
	Total         int64 `json:"total"`

	PaymentStatus     string `json:"payment_status"`
	FulfillmentStatus string `json:"fulfillment_status"`
	Terms             Terms  `json:"terms"`

	PlacedAt  time.Time `json:"placed_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Warnings name findings that did not stop the order, such as a
	// channel's totals that do not add up.
	Warnings []Warning `json:"warnings"`
	// RawPayloadID refers to the stored raw channel payload.
	RawPayloadID string `json:"raw_payload_id,omitempty"`

	// The fields below are kept by ordergate, not by the channel: who
	// entered and last changed the order (user or source IDs), when it was
	// taken in, and who approved it. Parsers leave them empty.
	CreatedBy  string     `json:"created_by,omitempty"`
	ModifiedBy string     `json:"modified_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at,omitzero"`
	Approvals  []Approval `json:"approvals,omitempty"`
}

// Approval is one approver's signature on an order, with the evidence of
// how the approver was authenticated at that moment.
type Approval struct {
	UserID   string         `json:"user_id"`
	UserName string         `json:"user_name"`
	At       time.Time      `json:"at"`
	Evidence map[string]any `json:"evidence,omitempty"`
}

// Customer is who placed the order.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// Address is a postal address; Country is ISO 3166-1 alpha-2 when known.
type Address struct {
	Name       string `json:"name"`
	Company    string `json:"company"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Line is one order line. Total = Quantity*UnitPrice - Discount + Tax when
// taxes are charged on top of prices.
type Line struct {
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	Discount  int64  `json:"discount"`
	Tax       int64  `json:"tax"`
	Total     int64  `json:"total"`
}

// Terms are the contract terms of an order.
type Terms struct {
	PONumber          string `json:"po_number"`
	PaymentTerms      string `json:"payment_terms"`
	RequestedDelivery string `json:"requested_delivery"`
}

// Warning is a finding about an order that did not stop it, with a stable
// code (e.g. "totals.subtotal_mismatch") and a human message.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
