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
	"encoding/json"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
	"github.com/ordergate/ordergate/internal/order"
)

// body is every accepted top-level shape at once; the embedded order holds
// the fields of a bare order object.
type body struct {
	Order  *shopifyOrder  `json:"order"`
	Orders []shopifyOrder `json:"orders"`
	shopifyOrder
}

type shopifyOrder struct {
	ID                  channeljson.Number `json:"id"`
	Name                string             `json:"name"`
	Email               string             `json:"email"`
	ContactEmail        string             `json:"contact_email"`
	Phone               string             `json:"phone"`
	Currency            string             `json:"currency"`
	CreatedAt           string             `json:"created_at"`
	ProcessedAt         string             `json:"processed_at"`
	UpdatedAt           string             `json:"updated_at"`
	FinancialStatus     string             `json:"financial_status"`
	FulfillmentStatus   string             `json:"fulfillment_status"`
	TaxesIncluded       bool               `json:"taxes_included"`
	Test                bool               `json:"test"`
	SubtotalPrice       channeljson.Number `json:"subtotal_price"`
	TotalLineItemsPrice channeljson.Number `json:"total_line_items_price"`
	TotalDiscounts      channeljson.Number `json:"total_discounts"`
	TotalTax            channeljson.Number `json:"total_tax"`
	TotalPrice          channeljson.Number `json:"total_price"`
	DiscountCodes       []discountCode     `json:"discount_codes"`
	TaxLines            []taxLine          `json:"tax_lines"`
	ShippingLines       []shippingLine     `json:"shipping_lines"`
	LineItems           []lineItem         `json:"line_items"`
	BillingAddress      *address           `json:"billing_address"`
	ShippingAddress     *address           `json:"shipping_address"`
	Customer            *customer          `json:"customer"`
}

type discountCode struct {
	Code   string             `json:"code"`
	Amount channeljson.Number `json:"amount"`
}

type taxLine struct {
	Price channeljson.Number `json:"price"`
}

type shippingLine struct {
	Price channeljson.Number `json:"price"`
}

type lineItem struct {
	SKU                 string             `json:"sku"`
	Name                string             `json:"name"`
	Title               string             `json:"title"`
	VariantID           channeljson.Number `json:"variant_id"`
	Quantity            channeljson.Number `json:"quantity"`
	Price               channeljson.Number `json:"price"`
	TotalDiscount       channeljson.Number `json:"total_discount"`
	DiscountAllocations []allocation       `json:"discount_allocations"`
	TaxLines            []taxLine          `json:"tax_lines"`
}

type allocation struct {
	Amount channeljson.Number `json:"amount"`
}

type address struct {
	Name         string `json:"name"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Company      string `json:"company"`
	Address1     string `json:"address1"`
	Address2     string `json:"address2"`
	City         string `json:"city"`
	Province     string `json:"province"`
	ProvinceCode string `json:"province_code"`
	Zip          string `json:"zip"`
	CountryCode  string `json:"country_code"`
	Phone        string `json:"phone"`
}

type customer struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

// Parse converts a Shopify order body into canonical orders with Channel
// set to order.ChannelShopify, Status and Source left empty, times in UTC,
// and Lines and Warnings never nil. Malformed JSON gives an EINVALID *ordergate.Error with the byte
// offset; a value of the wrong type, a missing id or currency, or an amount
// that is not exact in the currency's minor units gives EUNPROCESSABLE
// with Fields naming each JSON path at fault. A body with no order is
// EUNPROCESSABLE too. Parse never panics.
func Parse(data []byte) ([]order.Order, error) {
	if c := channeljson.FirstByte(data); c != '{' {
		return nil, notObject(data, c)
	}
	var b body
	if err := channeljson.Unmarshal(data, &b); err != nil {
		return nil, channeljson.DecodeError(data, "", err)
	}
	var fe channeljson.FieldErrors
	var out []order.Order
	switch {
	case b.Order != nil:
		out = []order.Order{convert(b.Order, "order", &fe)}
	case b.Orders != nil:
		if len(b.Orders) == 0 {
			fe.Add("orders", "holds no order")
		}
		out = make([]order.Order, len(b.Orders))
		for i := range b.Orders {
			out[i] = convert(&b.Orders[i], "orders["+strconv.Itoa(i)+"]", &fe)
		}
	default:
		out = []order.Order{convert(&b.shopifyOrder, "", &fe)}
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
	if err := channeljson.Unmarshal(data, new(json.RawMessage)); err != nil {
		return channeljson.DecodeError(data, "", err)
	}
	return &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: "want a Shopify order object, {\"order\": …} or {\"orders\": […]}", Fields: map[string]string{"$": "must be an object"}}
}

// convert maps one Shopify order found at path (empty for a bare order)
// to a canonical order, recording problems in fe.
func convert(s *shopifyOrder, path string, fe *channeljson.FieldErrors) order.Order {
	at := func(field string) string { return channeljson.JoinPath(path, field) }
	o := order.Order{
		Channel:           order.ChannelShopify,
		Lines:             make([]order.Line, len(s.LineItems)),
		Warnings:          make([]order.Warning, 0),
		ExternalID:        fe.ID(s.ID, at("id")),
		Number:            s.Name,
		Currency:          s.Currency,
		PaymentStatus:     s.FinancialStatus,
		FulfillmentStatus: s.FulfillmentStatus,
	}
	if o.ExternalID == "" && s.ID.Kind == "" {
		fe.Add(at("id"), "required")
	}
	if !fe.Currency(s.Currency, at("currency")) {
		return o
	}
	if o.FulfillmentStatus == "" {
		o.FulfillmentStatus = "unfulfilled"
	}
	cur := s.Currency

	placed, placedField := s.CreatedAt, "created_at"
	if placed == "" {
		placed, placedField = s.ProcessedAt, "processed_at"
	}
	o.PlacedAt = fe.Time(placed, "", at(placedField))
	o.UpdatedAt = fe.Time(s.UpdatedAt, "", at("updated_at"))

	o.Customer.Email = cmp.Or(s.Email, s.ContactEmail)
	o.Customer.Phone = s.Phone
	if c := s.Customer; c != nil {
		o.Customer.Name = joinName(c.FirstName, c.LastName)
		o.Customer.Email = cmp.Or(o.Customer.Email, c.Email)
		o.Customer.Phone = cmp.Or(o.Customer.Phone, c.Phone)
	}
	if a := s.BillingAddress; a != nil {
		o.BillingAddress = a.canonical()
		o.Customer.Name = cmp.Or(o.Customer.Name, o.BillingAddress.Name)
		o.Customer.Phone = cmp.Or(o.Customer.Phone, a.Phone)
	}
	if a := s.ShippingAddress; a != nil {
		o.ShippingAddress = a.canonical()
	}

	var subtotal, lineDiscounts, lineTaxes int64
	for i := range s.LineItems {
		li := &s.LineItems[i]
		lp := at("line_items[" + strconv.Itoa(i) + "]")
		l := order.Line{
			SKU:       li.SKU,
			Title:     cmp.Or(li.Name, li.Title),
			Quantity:  fe.Integer(li.Quantity, lp+".quantity"),
			UnitPrice: fe.Amount(li.Price, cur, lp+".price"),
		}
		if li.DiscountAllocations != nil {
			for j := range li.DiscountAllocations {
				p := lp + ".discount_allocations[" + strconv.Itoa(j) + "].amount"
				l.Discount = fe.Plus(l.Discount, fe.Amount(li.DiscountAllocations[j].Amount, cur, p), p)
			}
		} else {
			l.Discount = fe.Amount(li.TotalDiscount, cur, lp+".total_discount")
		}
		for j := range li.TaxLines {
			p := lp + ".tax_lines[" + strconv.Itoa(j) + "].price"
			l.Tax = fe.Plus(l.Tax, fe.Amount(li.TaxLines[j].Price, cur, p), p)
		}
		gross := fe.Times(l.Quantity, l.UnitPrice, lp+".price")
		l.Total = fe.Plus(fe.Minus(gross, l.Discount, lp+".total_discount"), l.Tax, lp+".tax_lines")
		subtotal = fe.Plus(subtotal, gross, lp+".price")
		lineDiscounts = fe.Plus(lineDiscounts, l.Discount, lp+".total_discount")
		lineTaxes = fe.Plus(lineTaxes, l.Tax, lp+".tax_lines")
		if l.SKU == "" {
			msg := "line_items[" + strconv.Itoa(i) + "] has no sku"
			if v := li.VariantID.Text; v != "" {
				msg += "; its variant_id is " + v
			}
			o.Warnings = append(o.Warnings, order.Warning{Code: "line.sku_missing", Message: msg})
		}
		o.Lines[i] = l
	}

	for i := range s.ShippingLines {
		p := at("shipping_lines[" + strconv.Itoa(i) + "].price")
		o.ShippingTotal = fe.Plus(o.ShippingTotal, fe.Amount(s.ShippingLines[i].Price, cur, p), p)
	}
	o.Subtotal = fe.Stated(s.TotalLineItemsPrice, cur, at("total_line_items_price"), subtotal)
	o.DiscountTotal = fe.Stated(s.TotalDiscounts, cur, at("total_discounts"), lineDiscounts)
	o.TaxTotal = fe.Stated(s.TotalTax, cur, at("total_tax"), lineTaxes)
	tp := at("total_price")
	o.Total = fe.Stated(s.TotalPrice, cur, tp, fe.Plus(fe.Plus(fe.Minus(o.Subtotal, o.DiscountTotal, tp), o.ShippingTotal, tp), o.TaxTotal, tp))

	var codes, orderTaxes int64
	for i := range s.DiscountCodes {
		p := at("discount_codes[" + strconv.Itoa(i) + "].amount")
		codes = fe.Plus(codes, fe.Amount(s.DiscountCodes[i].Amount, cur, p), p)
	}
	if len(s.DiscountCodes) > 0 && codes != o.DiscountTotal {
		o.Warnings = append(o.Warnings, order.Warning{Code: "totals.discount_codes_mismatch",
			Message: "discount codes add up to " + order.FormatAmount(codes, cur) + " but total_discounts is " + order.FormatAmount(o.DiscountTotal, cur)})
	}
	for i := range s.TaxLines {
		p := at("tax_lines[" + strconv.Itoa(i) + "].price")
		orderTaxes = fe.Plus(orderTaxes, fe.Amount(s.TaxLines[i].Price, cur, p), p)
	}
	if len(s.TaxLines) > 0 && orderTaxes != o.TaxTotal {
		o.Warnings = append(o.Warnings, order.Warning{Code: "totals.tax_lines_mismatch",
			Message: "tax_lines add up to " + order.FormatAmount(orderTaxes, cur) + " but total_tax is " + order.FormatAmount(o.TaxTotal, cur)})
	}
	if s.SubtotalPrice.Set && s.TotalLineItemsPrice.Set && s.TotalDiscounts.Set {
		sp := fe.Amount(s.SubtotalPrice, cur, at("subtotal_price"))
		if want := fe.Minus(o.Subtotal, o.DiscountTotal, at("subtotal_price")); sp != want {
			o.Warnings = append(o.Warnings, order.Warning{Code: "totals.channel_subtotal_mismatch",
				Message: "subtotal_price " + order.FormatAmount(sp, cur) + " is not total_line_items_price − total_discounts = " + order.FormatAmount(want, cur)})
		}
	}
	if s.TaxesIncluded {
		o.Warnings = append(o.Warnings, order.Warning{Code: "taxes.included",
			Message: "prices include tax (taxes_included); the totals count tax on top of prices, so they will not add up"})
	}
	if s.Test {
		o.Warnings = append(o.Warnings, order.Warning{Code: "order.test", Message: "Shopify marks this as a test order"})
	}
	return o
}

// canonical maps a Shopify address; Region prefers the province code.
func (a *address) canonical() order.Address {
	return order.Address{
		Name:       cmp.Or(a.Name, joinName(a.FirstName, a.LastName)),
		Company:    a.Company,
		Line1:      a.Address1,
		Line2:      a.Address2,
		City:       a.City,
		Region:     cmp.Or(a.ProvinceCode, a.Province),
		PostalCode: a.Zip,
		Country:    a.CountryCode,
	}
}

// joinName joins a first and last name with a space, skipping empty parts.
func joinName(first, last string) string {
	return strings.TrimSpace(first + " " + last)
}
