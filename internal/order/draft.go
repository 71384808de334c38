package order

import "time"

// Draft is an order entered by a person: the canonical order without id
// or status, in which totals may be left out (nil) and are then computed.
// Totals that are given must add up.
type Draft struct {
	ExternalID      string      `json:"external_id"`
	Number          string      `json:"number"`
	Currency        string      `json:"currency"`
	Customer        Customer    `json:"customer"`
	BillingAddress  Address     `json:"billing_address"`
	ShippingAddress Address     `json:"shipping_address"`
	Lines           []DraftLine `json:"lines"`

	Subtotal      *int64 `json:"subtotal"`
	DiscountTotal *int64 `json:"discount_total"`
	ShippingTotal *int64 `json:"shipping_total"`
	TaxTotal      *int64 `json:"tax_total"`
	Total         *int64 `json:"total"`

	PaymentStatus     string    `json:"payment_status"`
	FulfillmentStatus string    `json:"fulfillment_status"`
	Terms             Terms     `json:"terms"`
	PlacedAt          time.Time `json:"placed_at"`
}

// DraftLine is a line of a Draft; Total may be left out.
type DraftLine struct {
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	Discount  int64  `json:"discount"`
	Tax       int64  `json:"tax"`
	Total     *int64 `json:"total"`
}

// Order returns the canonical order d describes, with every total that
// d leaves out computed as ComputeTotals does and every total d gives
// kept as given, for Check to judge.
func (d *Draft) Order() *Order {
	o := &Order{
		Channel: ChannelManual, ExternalID: d.ExternalID, Number: d.Number, Currency: d.Currency,
		Customer: d.Customer, BillingAddress: d.BillingAddress, ShippingAddress: d.ShippingAddress,
		PaymentStatus: d.PaymentStatus, FulfillmentStatus: d.FulfillmentStatus, Terms: d.Terms,
		PlacedAt: d.PlacedAt.UTC(), Lines: make([]Line, len(d.Lines)), Warnings: []Warning{},
	}
	if d.PlacedAt.IsZero() {
		o.PlacedAt = time.Time{}
	}
	for i, l := range d.Lines {
		o.Lines[i] = Line{SKU: l.SKU, Title: l.Title, Quantity: l.Quantity, UnitPrice: l.UnitPrice,
			Discount: l.Discount, Tax: l.Tax, Total: deref(l.Total)}
	}
	o.Subtotal, o.DiscountTotal, o.TaxTotal = deref(d.Subtotal), deref(d.DiscountTotal), deref(d.TaxTotal)
	o.ShippingTotal, o.Total = deref(d.ShippingTotal), deref(d.Total)

	computed := *o
	computed.Lines = append([]Line(nil), o.Lines...)
	computed.ComputeTotals()
	for i, l := range d.Lines {
		if l.Total == nil {
			o.Lines[i].Total = computed.Lines[i].Total
		}
	}
	fill := func(given *int64, dst *int64, v int64) {
		if given == nil {
			*dst = v
		}
	}
	fill(d.Subtotal, &o.Subtotal, computed.Subtotal)
	fill(d.DiscountTotal, &o.DiscountTotal, computed.DiscountTotal)
	fill(d.TaxTotal, &o.TaxTotal, computed.TaxTotal)
	fill(d.Total, &o.Total, computed.Total)
	return o
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
