// Package woocommerce parses WooCommerce orders into canonical orders.
//
// It reads the REST API v3 order (/wp-json/wc/v3/orders, and the order.*
// webhook bodies, which have the same shape) as a bare object or an array
// of them, and the legacy WooCommerce 2.x REST API order in its
// {"order": {…}} or {"orders": […]} envelope. It is a pure function of
// the bytes: no HTTP, no storage, no clock.
//
// Mapping decisions:
//
//   - Totals are decimal strings and the line price is a JSON number (a
//     string in the legacy API); both are read as text and converted
//     exactly with order.ParseAmount, never through float64.
//   - WooCommerce stores line amounts before tax whether or not
//     prices_include_tax is set: a line's subtotal is quantity × unit price
//     before discounts, its total is after discounts, and total_tax is its
//     tax. So UnitPrice = subtotal ÷ quantity, Discount = subtotal − total,
//     Tax = total_tax and Total = total + total_tax. The line price, which
//     WooCommerce computes after discounts and without rounding, is used
//     only when subtotal is missing. When subtotal is not a whole multiple
//     of the quantity (10.00 for 3), UnitPrice is truncated and the line
//     gets a line.unit_price_inexact warning; order.Check then reports the
//     line as not adding up, so a person looks at it. Nothing is rounded
//     silently.
//   - The channel's stated figures are kept: Subtotal is the legacy
//     subtotal, or the sum of the line subtotals (v3 states none);
//     DiscountTotal is discount_total (legacy total_discount); TaxTotal is
//     total_tax; Total is total. A figure left out is computed.
//   - ShippingTotal is shipping_total (legacy total_shipping) plus the
//     fee_lines, because the canonical order has no fee total; an order
//     with fees gets a totals.fees_in_shipping warning.
//   - An empty sku stays empty, with a line.sku_missing warning naming the
//     product and variation ids. Titles are HTML-unescaped (WooCommerce
//     sends "&ndash;").
//   - PlacedAt is date_created_gmt (legacy created_at), UpdatedAt is
//     date_modified_gmt (legacy updated_at). When only the site-local
//     date_created is present it is taken as UTC and the order gets a
//     date.site_local warning.
//   - WooCommerce folds payment and fulfilment into one status: pending
//     and on-hold give payment "pending", processing and completed give
//     "paid", refunded "refunded", failed "failed", cancelled "voided";
//     other statuses are kept as they are. Only completed is "fulfilled";
//     everything else is "unfulfilled".
package woocommerce

import (
	"cmp"
	"html"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
	"github.com/ordergate/ordergate/internal/order"
)

// gmtLayout is how WooCommerce writes its *_gmt times: UTC, no zone.
const gmtLayout = "2006-01-02T15:04:05"

// Parse converts a WooCommerce order body into canonical orders with
// Channel set to order.ChannelWooCommerce, Status and Source left empty,
// times in UTC, and Lines and Warnings never nil. Malformed JSON gives an
// EINVALID *ordergate.Error with the byte offset; a value of the wrong
// type, a missing id or currency, or an amount that is not exact in the
// currency's minor units gives EUNPROCESSABLE with Fields naming each
// JSON path at fault. A body with no order is EUNPROCESSABLE too. Parse
// never panics.
func Parse(data []byte) ([]order.Order, error) {
	switch channeljson.FirstByte(data) {
	case '[', '{':
	case 0:
		return nil, &ordergate.Error{Code: ordergate.EINVALID, Message: "empty body: want a WooCommerce order"}
	default:
		if err := channeljson.Valid(data); err != nil {
			return nil, err
		}
		return nil, &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: "want a WooCommerce order object or an array of them",
			Fields: map[string]string{"$": "must be an object or an array"}}
	}
	var fe channeljson.FieldErrors
	var out []order.Order
	err := channeljson.Read(data, &fe, func(top channeljson.Value) {
		if top.Kind() == "array" {
			out = convertAll(top.Objects(), "$", &fe)
			return
		}
		b := top.Object()
		if w := b.Object("order"); w.Present() {
			out = []order.Order{convert(w)}
		} else if list := b.Objects("orders"); list != nil {
			out = convertAll(list, "orders", &fe)
		} else {
			out = []order.Order{convert(b)} // a bare v3 order
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

// convertAll converts list, the orders found at path.
func convertAll(list []channeljson.Object, path string, fe *channeljson.FieldErrors) []order.Order {
	if len(list) == 0 {
		fe.Add(path, "holds no order")
	}
	out := make([]order.Order, len(list))
	for i, w := range list {
		out[i] = convert(w)
	}
	return out
}

// convert maps one WooCommerce order w to a canonical order, recording
// problems in the FieldErrors w was read with.
func convert(w channeljson.Object) order.Order {
	lineItems := w.Objects("line_items")
	o := order.Order{
		Channel:    order.ChannelWooCommerce,
		ExternalID: w.RequiredID("id"),
		Lines:      make([]order.Line, len(lineItems)),
		Warnings:   make([]order.Warning, 0),
	}
	w.Bool("prices_include_tax") // only its kind is checked: line amounts are before tax either way
	// With an unknown currency every amount reads as zero, but the rest is
	// still read, so that values of the wrong kind are found.
	o.Currency, _ = w.Currency("currency")
	cur := o.Currency
	o.Number = w.ID("number")
	if o.Number == "" {
		o.Number = w.ID("order_number")
	}
	o.PaymentStatus, o.FulfillmentStatus = statuses(w.String("status"))
	warn := func(code, msg string) { o.Warnings = append(o.Warnings, order.Warning{Code: code, Message: msg}) }

	if key := firstSet(w, "date_created_gmt", "created_at", "date_created"); key != "" {
		o.PlacedAt = w.Time(key, gmtLayout)
		if key == "date_created" {
			warn("date.site_local", "date_created_gmt is missing; the site-local date_created was taken as UTC")
		}
	}
	if key := firstSet(w, "date_modified_gmt", "updated_at", "date_modified"); key != "" {
		o.UpdatedAt = w.Time(key, gmtLayout)
	}

	billing := w.Object("billing")
	if !billing.Present() {
		billing = w.Object("billing_address")
	}
	shipping := w.Object("shipping")
	if !shipping.Present() {
		shipping = w.Object("shipping_address")
	}
	if billing.Present() {
		o.BillingAddress = canonical(billing)
		o.Customer = order.Customer{Name: o.BillingAddress.Name, Email: billing.String("email"), Phone: billing.String("phone")}
	}
	if shipping.Present() {
		o.ShippingAddress = canonical(shipping)
	}
	if c := w.Object("customer"); c.Present() {
		o.Customer.Email = cmp.Or(o.Customer.Email, c.String("email"))
		o.Customer.Name = cmp.Or(o.Customer.Name, joinName(c.String("first_name"), c.String("last_name")))
	}

	var subtotal, lineDiscounts, lineTaxes int64
	for i, li := range lineItems {
		l := order.Line{
			SKU:      li.String("sku"),
			Title:    html.UnescapeString(li.String("name")),
			Quantity: li.Integer("quantity"),
			Tax:      li.Amount("total_tax", cur),
		}
		var gross int64
		if li.Has("subtotal") {
			li.ID("price") // unrounded: only its kind is checked
			gross = li.Amount("subtotal", cur)
			if l.Quantity > 0 {
				l.UnitPrice = gross / l.Quantity
				if gross%l.Quantity != 0 {
					warn("line.unit_price_inexact", "line_items["+strconv.Itoa(i)+"]: subtotal "+order.FormatAmount(gross, cur)+
						" is not a whole multiple of quantity "+strconv.FormatInt(l.Quantity, 10)+"; the unit price "+
						order.FormatAmount(l.UnitPrice, cur)+" is truncated")
				}
			}
		} else {
			l.UnitPrice = li.Amount("price", cur)
			gross = li.Times(l.Quantity, l.UnitPrice, "price")
		}
		net := gross
		if li.Has("total") {
			net = li.Amount("total", cur)
		}
		l.Discount = li.Minus(gross, net, "total")
		l.Total = li.Plus(net, l.Tax, "total_tax")
		subtotal = li.Plus(subtotal, gross, "subtotal")
		lineDiscounts = li.Plus(lineDiscounts, l.Discount, "total")
		lineTaxes = li.Plus(lineTaxes, l.Tax, "total_tax")
		if l.SKU == "" {
			msg := "line_items[" + strconv.Itoa(i) + "] has no sku"
			if p := li.Number("product_id").Text; p != "" {
				msg += "; its product_id is " + p
			}
			if v := li.Number("variation_id").Text; v != "" && v != "0" {
				msg += ", variation_id " + v
			}
			warn("line.sku_missing", msg)
		}
		o.Lines[i] = l
	}

	shippingLines := channeljson.Sum(w.Objects("shipping_lines"), "total", cur)
	feeLines := w.Objects("fee_lines")
	fees := channeljson.Sum(feeLines, "total", cur)

	o.Subtotal = w.Stated("subtotal", cur, subtotal)
	o.DiscountTotal = w.Stated(firstPresent(w, "discount_total", "total_discount"), cur, lineDiscounts)
	o.ShippingTotal = w.Stated(firstPresent(w, "shipping_total", "total_shipping"), cur, shippingLines)
	o.ShippingTotal = w.Plus(o.ShippingTotal, fees, "fee_lines")
	if len(feeLines) > 0 {
		warn("totals.fees_in_shipping", "fee_lines adding up to "+order.FormatAmount(fees, cur)+" are counted in shipping_total")
	}
	var orderTaxes int64
	taxLines := w.Objects("tax_lines")
	for _, t := range taxLines {
		if t.Has("tax_total") || t.Has("shipping_tax_total") { // v3
			orderTaxes = t.Plus(orderTaxes, t.Amount("tax_total", cur), "")
			orderTaxes = t.Plus(orderTaxes, t.Amount("shipping_tax_total", cur), "")
		} else { // legacy
			orderTaxes = t.Plus(orderTaxes, t.Amount("total", cur), "")
		}
	}
	computedTax := lineTaxes
	if len(taxLines) > 0 {
		computedTax = orderTaxes
	}
	o.TaxTotal = w.Stated("total_tax", cur, computedTax)
	o.Total = w.StatedTotal("total", &o)

	if len(taxLines) > 0 && orderTaxes != o.TaxTotal {
		warn("totals.tax_lines_mismatch", "tax_lines add up to "+order.FormatAmount(orderTaxes, cur)+" but total_tax is "+order.FormatAmount(o.TaxTotal, cur))
	}
	var coupons int64
	couponLines := w.Objects("coupon_lines")
	for _, c := range couponLines {
		coupons = c.Plus(coupons, c.Amount(firstPresent(c, "discount", "amount"), cur), "") // amount: legacy
	}
	if len(couponLines) > 0 && coupons != o.DiscountTotal {
		warn("totals.discount_codes_mismatch", "coupon_lines add up to "+order.FormatAmount(coupons, cur)+" but the discount total is "+order.FormatAmount(o.DiscountTotal, cur))
	}
	return o
}

// statuses derives the payment and fulfilment status from WooCommerce's
// single order status.
func statuses(status string) (payment, fulfillment string) {
	fulfillment = "unfulfilled"
	switch status {
	case "pending", "on-hold":
		payment = "pending"
	case "processing":
		payment = "paid"
	case "completed":
		payment, fulfillment = "paid", "fulfilled"
	case "refunded":
		payment = "refunded"
	case "failed":
		payment = "failed"
	case "cancelled":
		payment = "voided"
	default:
		payment = status
	}
	return payment, fulfillment
}

// firstPresent returns the first of keys that o has with a value other
// than null, or the last of keys: where the v3 API and the legacy one
// name a figure differently.
func firstPresent(o channeljson.Object, keys ...string) string {
	for _, k := range keys[:len(keys)-1] {
		if o.Has(k) {
			return k
		}
	}
	return keys[len(keys)-1]
}

// firstSet returns the first of keys whose string o has and is not
// empty, or "" when there is none.
func firstSet(o channeljson.Object, keys ...string) string {
	for _, k := range keys {
		if o.String(k) != "" {
			return k
		}
	}
	return ""
}

// canonical maps a WooCommerce address.
func canonical(a channeljson.Object) order.Address {
	return order.Address{
		Name:       joinName(a.String("first_name"), a.String("last_name")),
		Company:    a.String("company"),
		Line1:      a.String("address_1"),
		Line2:      a.String("address_2"),
		City:       a.String("city"),
		Region:     a.String("state"),
		PostalCode: a.String("postcode"),
		Country:    a.String("country"),
	}
}

// joinName joins a first and last name with a space, skipping empty parts.
func joinName(first, last string) string {
	return strings.TrimSpace(first + " " + last)
}
