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
	"encoding/json"
	"html"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
	"github.com/ordergate/ordergate/internal/order"
)

// gmtLayout is how WooCommerce writes its *_gmt times: UTC, no zone.
const gmtLayout = "2006-01-02T15:04:05"

// body is every accepted object shape at once; the embedded order holds
// the fields of a bare v3 order.
type body struct {
	Order  *wooOrder  `json:"order"`
	Orders []wooOrder `json:"orders"`
	wooOrder
}

type wooOrder struct {
	ID               channeljson.Number `json:"id"`
	Number           channeljson.Number `json:"number"`
	OrderNumber      channeljson.Number `json:"order_number"`
	Status           string             `json:"status"`
	Currency         string             `json:"currency"`
	DateCreated      string             `json:"date_created"`
	DateCreatedGMT   string             `json:"date_created_gmt"`
	DateModified     string             `json:"date_modified"`
	DateModifiedGMT  string             `json:"date_modified_gmt"`
	CreatedAt        string             `json:"created_at"`
	UpdatedAt        string             `json:"updated_at"`
	PricesIncludeTax bool               `json:"prices_include_tax"`

	Subtotal      channeljson.Number `json:"subtotal"`
	DiscountTotal channeljson.Number `json:"discount_total"`
	TotalDiscount channeljson.Number `json:"total_discount"`
	ShippingTotal channeljson.Number `json:"shipping_total"`
	TotalShipping channeljson.Number `json:"total_shipping"`
	TotalTax      channeljson.Number `json:"total_tax"`
	Total         channeljson.Number `json:"total"`

	Billing         *address  `json:"billing"`
	Shipping        *address  `json:"shipping"`
	BillingAddress  *address  `json:"billing_address"`
	ShippingAddress *address  `json:"shipping_address"`
	Customer        *customer `json:"customer"`

	LineItems     []lineItem     `json:"line_items"`
	TaxLines      []taxLine      `json:"tax_lines"`
	ShippingLines []shippingLine `json:"shipping_lines"`
	FeeLines      []feeLine      `json:"fee_lines"`
	CouponLines   []couponLine   `json:"coupon_lines"`
}

type lineItem struct {
	Name        string             `json:"name"`
	SKU         string             `json:"sku"`
	ProductID   channeljson.Number `json:"product_id"`
	VariationID channeljson.Number `json:"variation_id"`
	Quantity    channeljson.Number `json:"quantity"`
	Subtotal    channeljson.Number `json:"subtotal"`
	Total       channeljson.Number `json:"total"`
	TotalTax    channeljson.Number `json:"total_tax"`
	Price       channeljson.Number `json:"price"`
}

type taxLine struct {
	TaxTotal         channeljson.Number `json:"tax_total"`          // v3
	ShippingTaxTotal channeljson.Number `json:"shipping_tax_total"` // v3
	Total            channeljson.Number `json:"total"`              // legacy
}

type shippingLine struct {
	Total channeljson.Number `json:"total"`
}

type feeLine struct {
	Name  string             `json:"name"`
	Total channeljson.Number `json:"total"`
}

type couponLine struct {
	Code     string             `json:"code"`
	Discount channeljson.Number `json:"discount"`
	Amount   channeljson.Number `json:"amount"` // legacy
}

type address struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type customer struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// Parse converts a WooCommerce order body into canonical orders with
// Channel set to order.ChannelWooCommerce, Status and Source left empty,
// times in UTC, and Lines and Warnings never nil. Malformed JSON gives an
// EINVALID *ordergate.Error with the byte offset; a value of the wrong
// type, a missing id or currency, or an amount that is not exact in the
// currency's minor units gives EUNPROCESSABLE with Fields naming each
// JSON path at fault. A body with no order is EUNPROCESSABLE too. Parse
// never panics.
func Parse(data []byte) ([]order.Order, error) {
	var fe channeljson.FieldErrors
	var out []order.Order
	switch channeljson.FirstByte(data) {
	case '[':
		var list []wooOrder
		if err := channeljson.Unmarshal(data, &list); err != nil {
			return nil, channeljson.DecodeError(data, "", err)
		}
		out = convertAll(list, "", &fe)
	case '{':
		var b body
		if err := channeljson.Unmarshal(data, &b); err != nil {
			return nil, channeljson.DecodeError(data, "", err)
		}
		switch {
		case b.Order != nil:
			out = []order.Order{convert(b.Order, "order", &fe)}
		case b.Orders != nil:
			out = convertAll(b.Orders, "orders", &fe)
		default:
			out = []order.Order{convert(&b.wooOrder, "", &fe)}
		}
	case 0:
		return nil, &ordergate.Error{Code: ordergate.EINVALID, Message: "empty body: want a WooCommerce order"}
	default:
		if err := channeljson.Unmarshal(data, new(json.RawMessage)); err != nil {
			return nil, channeljson.DecodeError(data, "", err)
		}
		return nil, &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: "want a WooCommerce order object or an array of them",
			Fields: map[string]string{"$": "must be an object or an array"}}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// convertAll converts a list of orders found at path.
func convertAll(list []wooOrder, path string, fe *channeljson.FieldErrors) []order.Order {
	if len(list) == 0 {
		fe.Add(cmp.Or(path, "$"), "holds no order")
	}
	out := make([]order.Order, len(list))
	for i := range list {
		out[i] = convert(&list[i], path+"["+strconv.Itoa(i)+"]", fe)
	}
	return out
}

// convert maps one WooCommerce order found at path (empty for a bare
// order) to a canonical order, recording problems in fe.
func convert(w *wooOrder, path string, fe *channeljson.FieldErrors) order.Order {
	at := func(field string) string { return channeljson.JoinPath(path, field) }
	o := order.Order{
		Channel:    order.ChannelWooCommerce,
		ExternalID: fe.ID(w.ID, at("id")),
		Currency:   w.Currency,
		Lines:      make([]order.Line, len(w.LineItems)),
		Warnings:   make([]order.Warning, 0),
	}
	if o.ExternalID == "" && w.ID.Kind == "" {
		fe.Add(at("id"), "required")
	}
	if !fe.Currency(w.Currency, at("currency")) {
		return o
	}
	cur := w.Currency
	o.Number = fe.ID(w.Number, at("number"))
	if o.Number == "" {
		o.Number = fe.ID(w.OrderNumber, at("order_number"))
	}
	o.PaymentStatus, o.FulfillmentStatus = statuses(w.Status)
	warn := func(code, msg string) { o.Warnings = append(o.Warnings, order.Warning{Code: code, Message: msg}) }

	switch {
	case w.DateCreatedGMT != "":
		o.PlacedAt = fe.Time(w.DateCreatedGMT, gmtLayout, at("date_created_gmt"))
	case w.CreatedAt != "":
		o.PlacedAt = fe.Time(w.CreatedAt, gmtLayout, at("created_at"))
	case w.DateCreated != "":
		o.PlacedAt = fe.Time(w.DateCreated, gmtLayout, at("date_created"))
		warn("date.site_local", "date_created_gmt is missing; the site-local date_created was taken as UTC")
	}
	switch {
	case w.DateModifiedGMT != "":
		o.UpdatedAt = fe.Time(w.DateModifiedGMT, gmtLayout, at("date_modified_gmt"))
	case w.UpdatedAt != "":
		o.UpdatedAt = fe.Time(w.UpdatedAt, gmtLayout, at("updated_at"))
	case w.DateModified != "":
		o.UpdatedAt = fe.Time(w.DateModified, gmtLayout, at("date_modified"))
	}

	billing := w.Billing
	if billing == nil {
		billing = w.BillingAddress
	}
	shipping := w.Shipping
	if shipping == nil {
		shipping = w.ShippingAddress
	}
	if billing != nil {
		o.BillingAddress = billing.canonical()
		o.Customer = order.Customer{Name: o.BillingAddress.Name, Email: billing.Email, Phone: billing.Phone}
	}
	if shipping != nil {
		o.ShippingAddress = shipping.canonical()
	}
	if c := w.Customer; c != nil {
		o.Customer.Email = cmp.Or(o.Customer.Email, c.Email)
		o.Customer.Name = cmp.Or(o.Customer.Name, joinName(c.FirstName, c.LastName))
	}

	var subtotal, lineDiscounts, lineTaxes int64
	for i := range w.LineItems {
		li := &w.LineItems[i]
		lp := at("line_items[" + strconv.Itoa(i) + "]")
		l := order.Line{
			SKU:      li.SKU,
			Title:    html.UnescapeString(li.Name),
			Quantity: fe.Integer(li.Quantity, lp+".quantity"),
			Tax:      fe.Amount(li.TotalTax, cur, lp+".total_tax"),
		}
		var gross int64
		if li.Subtotal.Present() {
			fe.IsNumber(li.Price, lp+".price") // unrounded; only its kind is checked
			gross = fe.Amount(li.Subtotal, cur, lp+".subtotal")
			if l.Quantity > 0 {
				l.UnitPrice = gross / l.Quantity
				if gross%l.Quantity != 0 {
					warn("line.unit_price_inexact", "line_items["+strconv.Itoa(i)+"]: subtotal "+order.FormatAmount(gross, cur)+
						" is not a whole multiple of quantity "+strconv.FormatInt(l.Quantity, 10)+"; the unit price "+
						order.FormatAmount(l.UnitPrice, cur)+" is truncated")
				}
			}
		} else {
			l.UnitPrice = fe.Amount(li.Price, cur, lp+".price")
			gross = fe.Times(l.Quantity, l.UnitPrice, lp+".price")
		}
		net := gross
		if li.Total.Present() {
			net = fe.Amount(li.Total, cur, lp+".total")
		}
		l.Discount = fe.Minus(gross, net, lp+".total")
		l.Total = fe.Plus(net, l.Tax, lp+".total_tax")
		subtotal = fe.Plus(subtotal, gross, lp+".subtotal")
		lineDiscounts = fe.Plus(lineDiscounts, l.Discount, lp+".total")
		lineTaxes = fe.Plus(lineTaxes, l.Tax, lp+".total_tax")
		if l.SKU == "" {
			msg := "line_items[" + strconv.Itoa(i) + "] has no sku"
			if p := li.ProductID.Text; p != "" {
				msg += "; its product_id is " + p
			}
			if v := li.VariationID.Text; v != "" && v != "0" {
				msg += ", variation_id " + v
			}
			warn("line.sku_missing", msg)
		}
		o.Lines[i] = l
	}

	var shippingLines, fees int64
	for i := range w.ShippingLines {
		p := at("shipping_lines[" + strconv.Itoa(i) + "].total")
		shippingLines = fe.Plus(shippingLines, fe.Amount(w.ShippingLines[i].Total, cur, p), p)
	}
	for i := range w.FeeLines {
		p := at("fee_lines[" + strconv.Itoa(i) + "].total")
		fees = fe.Plus(fees, fe.Amount(w.FeeLines[i].Total, cur, p), p)
	}

	o.Subtotal = fe.Stated(w.Subtotal, cur, at("subtotal"), subtotal)
	o.DiscountTotal = fe.Stated(either(w.DiscountTotal, w.TotalDiscount), cur, at(pick(w.DiscountTotal, "discount_total", "total_discount")), lineDiscounts)
	o.ShippingTotal = fe.Stated(either(w.ShippingTotal, w.TotalShipping), cur, at(pick(w.ShippingTotal, "shipping_total", "total_shipping")), shippingLines)
	o.ShippingTotal = fe.Plus(o.ShippingTotal, fees, at("fee_lines"))
	if len(w.FeeLines) > 0 {
		warn("totals.fees_in_shipping", "fee_lines adding up to "+order.FormatAmount(fees, cur)+" are counted in shipping_total")
	}
	var orderTaxes int64
	for i := range w.TaxLines {
		t := &w.TaxLines[i]
		p := at("tax_lines[" + strconv.Itoa(i) + "]")
		if t.TaxTotal.Set || t.ShippingTaxTotal.Set {
			orderTaxes = fe.Plus(orderTaxes, fe.Amount(t.TaxTotal, cur, p+".tax_total"), p)
			orderTaxes = fe.Plus(orderTaxes, fe.Amount(t.ShippingTaxTotal, cur, p+".shipping_tax_total"), p)
		} else {
			orderTaxes = fe.Plus(orderTaxes, fe.Amount(t.Total, cur, p+".total"), p)
		}
	}
	computedTax := lineTaxes
	if len(w.TaxLines) > 0 {
		computedTax = orderTaxes
	}
	o.TaxTotal = fe.Stated(w.TotalTax, cur, at("total_tax"), computedTax)
	tp := at("total")
	o.Total = fe.Stated(w.Total, cur, tp, fe.Plus(fe.Plus(fe.Minus(o.Subtotal, o.DiscountTotal, tp), o.ShippingTotal, tp), o.TaxTotal, tp))

	if len(w.TaxLines) > 0 && orderTaxes != o.TaxTotal {
		warn("totals.tax_lines_mismatch", "tax_lines add up to "+order.FormatAmount(orderTaxes, cur)+" but total_tax is "+order.FormatAmount(o.TaxTotal, cur))
	}
	var coupons int64
	for i := range w.CouponLines {
		c := &w.CouponLines[i]
		p := at("coupon_lines[" + strconv.Itoa(i) + "]")
		if c.Discount.Present() {
			coupons = fe.Plus(coupons, fe.Amount(c.Discount, cur, p+".discount"), p)
		} else {
			coupons = fe.Plus(coupons, fe.Amount(c.Amount, cur, p+".amount"), p)
		}
	}
	if len(w.CouponLines) > 0 && coupons != o.DiscountTotal {
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

// either returns a when the payload has it, and b otherwise.
func either(a, b channeljson.Number) channeljson.Number {
	if a.Present() {
		return a
	}
	return b
}

// pick returns the field name of either's choice.
func pick(a channeljson.Number, aName, bName string) string {
	if a.Present() {
		return aName
	}
	return bName
}

// canonical maps a WooCommerce address.
func (a *address) canonical() order.Address {
	return order.Address{
		Name:       joinName(a.FirstName, a.LastName),
		Company:    a.Company,
		Line1:      a.Address1,
		Line2:      a.Address2,
		City:       a.City,
		Region:     a.State,
		PostalCode: a.Postcode,
		Country:    a.Country,
	}
}

// joinName joins a first and last name with a space, skipping empty parts.
func joinName(first, last string) string {
	return strings.TrimSpace(first + " " + last)
}
