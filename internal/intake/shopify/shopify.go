// Package shopify parses Shopify orders into canonical orders.
//
// It reads the REST Admin Order resource, which is also the body of the
// orders/* webhooks, in any of three shapes: a bare order object,
// {"order": {…}} or {"orders": [{…}, …]}. It is a pure function of the
// bytes: no HTTP, no storage, no clock. Signature checks, deduplication and
// the order's status belong to the intake flow.
//
// Mapping decisions:
//
//   - Amounts are the shop-currency decimal strings ("409.94"), converted
//     exactly with order.ParseAmount in the order's currency; the
//     presentment *_set fields are ignored. A number where a string is
//     expected is accepted; floating point is never used.
//   - The channel's stated figures are kept as they are, even when they do
//     not add up: Subtotal is total_line_items_price (the sum of quantity ×
//     price before discounts, which is the canonical subtotal; Shopify's
//     subtotal_price is after discounts), DiscountTotal is total_discounts,
//     TaxTotal is total_tax and Total is total_price. order.Check then
//     reports any disagreement with the lines. A figure the payload leaves
//     out is computed from the lines instead.
//   - ShippingTotal is the sum of shipping_lines prices.
//   - A line's Discount is the sum of its discount_allocations, or its
//     total_discount when it has none; its Tax is the sum of its tax_lines;
//     its Total, which Shopify does not state, is computed.
//   - An empty or null sku stays empty: a variant id is not a SKU and
//     would not match the catalogue. The line gets a line.sku_missing
//     warning naming the variant id, so a person can map it.
//   - Title is the line's name (title plus variant), falling back to title.
//   - financial_status is kept as PaymentStatus; a null
//     fulfillment_status becomes "unfulfilled".
//   - PlacedAt is created_at (processed_at when created_at is missing),
//     UpdatedAt is updated_at, both in UTC.
//
// Parse also adds warnings for findings the canonical model cannot show:
// discount codes that do not add up to total_discounts, order tax lines
// that do not add up to total_tax, a subtotal_price that is not
// total_line_items_price − total_discounts, prices that include tax
// (taxes_included), and test orders.
package shopify

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
	"github.com/ordergate/ordergate/internal/order"
)

// Parse converts a Shopify order body into canonical orders with Channel
// set to order.ChannelShopify, Status and Source left empty, times in UTC,
// and Lines and Warnings never nil. Malformed JSON gives an EINVALID
// *ordergate.Error with the byte offset; a value of the wrong type, a
// missing id or currency, or an amount that is not exact in the currency's
// minor units gives EUNPROCESSABLE with Fields naming each JSON path at
// fault. A body with no order is EUNPROCESSABLE too. Parse never panics.
func Parse(data []byte) ([]order.Order, error) {
	if c := channeljson.FirstByte(data); c != '{' {
		return nil, notObject(data, c)
	}
	var fe channeljson.FieldErrors
	var out []order.Order
	err := channeljson.Read(data, &fe, func(top channeljson.Value) {
		b := top.Object()
		if s := b.Object("order"); s.Present() {
			out = []order.Order{convert(s)}
			return
		}
		list := b.Objects("orders")
		if list == nil {
			out = []order.Order{convert(b)} // a bare order
			return
		}
		if len(list) == 0 {
			fe.Add("orders", "holds no order")
		}
		out = make([]order.Order, len(list))
		for i, s := range list {
			out[i] = convert(s)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// notObject explains why a body that does not start with '{' is refused.
func notObject(data []byte, c byte) error {
	if c == 0 {
		return &ordergate.Error{Code: ordergate.EINVALID, Message: "empty body: want a Shopify order object"}
	}
	if err := channeljson.Valid(data); err != nil {
		return err
	}
	return &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: "want a Shopify order object, {\"order\": …} or {\"orders\": […]}", Fields: map[string]string{"$": "must be an object"}}
}

// convert maps one Shopify order s to a canonical order, recording
// problems in the FieldErrors s was read with.
func convert(s channeljson.Object) order.Order {
	lineItems := s.Objects("line_items")
	o := order.Order{
		Channel:           order.ChannelShopify,
		Lines:             make([]order.Line, len(lineItems)),
		Warnings:          make([]order.Warning, 0),
		ExternalID:        s.RequiredID("id"),
		Number:            s.String("name"),
		PaymentStatus:     s.String("financial_status"),
		FulfillmentStatus: s.String("fulfillment_status"),
	}
	// With an unknown currency every amount reads as zero, but the rest is
	// still read, so that values of the wrong kind are found.
	o.Currency, _ = s.Currency("currency")
	if o.FulfillmentStatus == "" {
		o.FulfillmentStatus = "unfulfilled"
	}
	cur := o.Currency

	placed := "created_at"
	if s.String(placed) == "" {
		placed = "processed_at"
	}
	o.PlacedAt = s.Time(placed, "")
	o.UpdatedAt = s.Time("updated_at", "")

	o.Customer.Email = cmp.Or(s.String("email"), s.String("contact_email"))
	o.Customer.Phone = s.String("phone")
	if c := s.Object("customer"); c.Present() {
		o.Customer.Name = joinName(c.String("first_name"), c.String("last_name"))
		o.Customer.Email = cmp.Or(o.Customer.Email, c.String("email"))
		o.Customer.Phone = cmp.Or(o.Customer.Phone, c.String("phone"))
	}
	if a := s.Object("billing_address"); a.Present() {
		o.BillingAddress = canonical(a)
		o.Customer.Name = cmp.Or(o.Customer.Name, o.BillingAddress.Name)
		o.Customer.Phone = cmp.Or(o.Customer.Phone, a.String("phone"))
	}
	if a := s.Object("shipping_address"); a.Present() {
		o.ShippingAddress = canonical(a)
	}

	var subtotal, lineDiscounts, lineTaxes int64
	for i, li := range lineItems {
		l := order.Line{
			SKU:       li.String("sku"),
			Title:     cmp.Or(li.String("name"), li.String("title")),
			Quantity:  li.Integer("quantity"),
			UnitPrice: li.Amount("price", cur),
		}
		if allocations := li.Objects("discount_allocations"); allocations != nil {
			l.Discount = channeljson.Sum(allocations, "amount", cur)
		} else {
			l.Discount = li.Amount("total_discount", cur)
		}
		l.Tax = channeljson.Sum(li.Objects("tax_lines"), "price", cur)
		gross := li.Times(l.Quantity, l.UnitPrice, "price")
		l.Total = li.Plus(li.Minus(gross, l.Discount, "total_discount"), l.Tax, "tax_lines")
		subtotal = li.Plus(subtotal, gross, "price")
		lineDiscounts = li.Plus(lineDiscounts, l.Discount, "total_discount")
		lineTaxes = li.Plus(lineTaxes, l.Tax, "tax_lines")
		if l.SKU == "" {
			msg := "line_items[" + strconv.Itoa(i) + "] has no sku"
			if v := li.Number("variant_id").Text; v != "" {
				msg += "; its variant_id is " + v
			}
			o.Warnings = append(o.Warnings, order.Warning{Code: "line.sku_missing", Message: msg})
		}
		o.Lines[i] = l
	}

	o.ShippingTotal = channeljson.Sum(s.Objects("shipping_lines"), "price", cur)
	o.Subtotal = s.Stated("total_line_items_price", cur, subtotal)
	o.DiscountTotal = s.Stated("total_discounts", cur, lineDiscounts)
	o.TaxTotal = s.Stated("total_tax", cur, lineTaxes)
	o.Total = s.StatedTotal("total_price", &o)

	discountCodes := s.Objects("discount_codes")
	codes := channeljson.Sum(discountCodes, "amount", cur)
	if len(discountCodes) > 0 && codes != o.DiscountTotal {
		o.Warnings = append(o.Warnings, order.Warning{Code: "totals.discount_codes_mismatch",
			Message: "discount codes add up to " + order.FormatAmount(codes, cur) + " but total_discounts is " + order.FormatAmount(o.DiscountTotal, cur)})
	}
	taxLines := s.Objects("tax_lines")
	orderTaxes := channeljson.Sum(taxLines, "price", cur)
	if len(taxLines) > 0 && orderTaxes != o.TaxTotal {
		o.Warnings = append(o.Warnings, order.Warning{Code: "totals.tax_lines_mismatch",
			Message: "tax_lines add up to " + order.FormatAmount(orderTaxes, cur) + " but total_tax is " + order.FormatAmount(o.TaxTotal, cur)})
	}
	if s.Has("subtotal_price") && s.Has("total_line_items_price") && s.Has("total_discounts") {
		sp := s.Amount("subtotal_price", cur)
		if want := s.Minus(o.Subtotal, o.DiscountTotal, "subtotal_price"); sp != want {
			o.Warnings = append(o.Warnings, order.Warning{Code: "totals.channel_subtotal_mismatch",
				Message: "subtotal_price " + order.FormatAmount(sp, cur) + " is not total_line_items_price − total_discounts = " + order.FormatAmount(want, cur)})
		}
	}
	if s.Bool("taxes_included") {
		o.Warnings = append(o.Warnings, order.Warning{Code: "taxes.included",
			Message: "prices include tax (taxes_included); the totals count tax on top of prices, so they will not add up"})
	}
	if s.Bool("test") {
		o.Warnings = append(o.Warnings, order.Warning{Code: "order.test", Message: "Shopify marks this as a test order"})
	}
	return o
}

// canonical maps a Shopify address; Region prefers the province code.
func canonical(a channeljson.Object) order.Address {
	return order.Address{
		Name:       cmp.Or(a.String("name"), joinName(a.String("first_name"), a.String("last_name"))),
		Company:    a.String("company"),
		Line1:      a.String("address1"),
		Line2:      a.String("address2"),
		City:       a.String("city"),
		Region:     cmp.Or(a.String("province_code"), a.String("province")),
		PostalCode: a.String("zip"),
		Country:    a.String("country_code"),
	}
}

// joinName joins a first and last name with a space, skipping empty parts.
func joinName(first, last string) string {
	return strings.TrimSpace(first + " " + last)
}
