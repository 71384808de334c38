package order

import (
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
)

// Violation codes returned by Check. They are stable: clients and stored
// warnings refer to them.
const (
	CodeLinesEmpty          = "lines.empty"              // the order has no lines
	CodeQuantityNotPositive = "quantity.not_positive"    // a line's quantity is zero or negative
	CodeAmountNegative      = "amount.negative"          // a price, discount, tax or total is below zero
	CodeAmountOverflow      = "amount.overflow"          // a product or sum does not fit in int64 minor units
	CodeCurrencyUnknown     = "currency.unknown"         // the currency is not a known ISO 4217 code
	CodeLineTotalMismatch   = "line.total_mismatch"      // line total ≠ quantity × unit price − discount + tax
	CodeSubtotalMismatch    = "totals.subtotal_mismatch" // subtotal ≠ Σ quantity × unit price
	CodeDiscountBelowLines  = "totals.discount_below_lines"
	CodeTaxBelowLines       = "totals.tax_below_lines"
	CodeTotalMismatch       = "totals.total_mismatch" // total ≠ subtotal − discounts + shipping + tax
)

// Violation is one broken invariant of an order. Code is one of the Code*
// constants; Field is the JSON path of the canonical order at fault, such
// as "lines[2].quantity" or "total"; Message says what is wrong for a
// person.
type Violation struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Check returns every invariant o breaks, in a stable order, or nil when
// it keeps them all. The arithmetic is in int64 minor units and never
// overflows silently: a product or sum that does not fit is reported as
// CodeAmountOverflow and the checks that depend on it are skipped.
//
// The invariants, which define how the amounts of an order relate:
//
//   - there is at least one line, and every quantity is positive;
//   - every unit price, discount, tax and total, on lines and on the
//     order, is zero or more;
//   - the currency is a known ISO 4217 code (see MinorDigits);
//   - each line: Total = Quantity×UnitPrice − Discount + Tax, where
//     Discount and Tax are the line's share (taxes charged on top of the
//     price);
//   - Subtotal = Σ Quantity×UnitPrice over the lines, before any
//     discount, tax or shipping (in the API example, two lines of 19900
//     give a subtotal of 39800);
//   - DiscountTotal is every discount on the order, line discounts
//     included, so DiscountTotal ≥ Σ line Discount; likewise TaxTotal is
//     every tax (line taxes, tax on shipping, order-level taxes), so
//     TaxTotal ≥ Σ line Tax;
//   - Total = Subtotal − DiscountTotal + ShippingTotal + TaxTotal.
//
// ShippingTotal holds every charge that is neither an item, a discount
// nor a tax (shipping, and fees such as gift wrap where a channel has
// them).
//
// Check does not change o. A nil order gives a single lines.empty
// violation.
func Check(o *Order) []Violation {
	var vs []Violation
	add := func(code, field, msg string) {
		vs = append(vs, Violation{Code: code, Field: field, Message: msg})
	}
	if o == nil {
		add(CodeLinesEmpty, "lines", "the order has no lines")
		return vs
	}
	if _, ok := MinorDigits(o.Currency); !ok {
		add(CodeCurrencyUnknown, "currency", "unknown currency "+strconv.Quote(o.Currency))
	}
	if len(o.Lines) == 0 {
		add(CodeLinesEmpty, "lines", "the order has no lines")
	}

	var (
		subtotal, lineDiscounts, lineTaxes int64
		subtotalOK, discountsOK, taxesOK   = true, true, true
	)
	for i := range o.Lines {
		l := &o.Lines[i]
		p := "lines[" + strconv.Itoa(i) + "]."
		if l.Quantity <= 0 {
			add(CodeQuantityNotPositive, p+"quantity", "quantity "+strconv.FormatInt(l.Quantity, 10)+" is not positive")
		}
		for _, a := range [...]struct {
			name string
			v    int64
		}{{"unit_price", l.UnitPrice}, {"discount", l.Discount}, {"tax", l.Tax}, {"total", l.Total}} {
			if a.v < 0 {
				add(CodeAmountNegative, p+a.name, a.name+" "+o.amount(a.v)+" is negative")
			}
		}

		gross, ok := MulAmounts(l.Quantity, l.UnitPrice)
		if !ok {
			add(CodeAmountOverflow, p+"unit_price", "quantity × unit price does not fit in 64 bits")
			subtotalOK = false
		} else if subtotalOK {
			subtotal, subtotalOK = AddAmounts(subtotal, gross)
		}
		if discountsOK {
			lineDiscounts, discountsOK = AddAmounts(lineDiscounts, l.Discount)
		}
		if taxesOK {
			lineTaxes, taxesOK = AddAmounts(lineTaxes, l.Tax)
		}
		if !ok {
			continue
		}
		want, ok := lineTotal(gross, l)
		switch {
		case !ok:
			add(CodeAmountOverflow, p+"total", "quantity × unit price − discount + tax does not fit in 64 bits")
		case want != l.Total:
			add(CodeLineTotalMismatch, p+"total", "line total "+o.amount(l.Total)+" ≠ quantity × unit price − discount + tax = "+o.amount(want))
		}
	}

	for _, a := range [...]struct {
		name string
		v    int64
	}{{"subtotal", o.Subtotal}, {"discount_total", o.DiscountTotal}, {"shipping_total", o.ShippingTotal}, {"tax_total", o.TaxTotal}, {"total", o.Total}} {
		if a.v < 0 {
			add(CodeAmountNegative, a.name, a.name+" "+o.amount(a.v)+" is negative")
		}
	}
	switch {
	case !subtotalOK:
		add(CodeAmountOverflow, "subtotal", "the sum of quantity × unit price over the lines does not fit in 64 bits")
	case subtotal != o.Subtotal:
		add(CodeSubtotalMismatch, "subtotal", "subtotal "+o.amount(o.Subtotal)+" ≠ Σ quantity × unit price = "+o.amount(subtotal))
	}
	switch {
	case !discountsOK:
		add(CodeAmountOverflow, "discount_total", "the sum of line discounts does not fit in 64 bits")
	case o.DiscountTotal < lineDiscounts:
		add(CodeDiscountBelowLines, "discount_total", "discount total "+o.amount(o.DiscountTotal)+" is less than the line discounts "+o.amount(lineDiscounts))
	}
	switch {
	case !taxesOK:
		add(CodeAmountOverflow, "tax_total", "the sum of line taxes does not fit in 64 bits")
	case o.TaxTotal < lineTaxes:
		add(CodeTaxBelowLines, "tax_total", "tax total "+o.amount(o.TaxTotal)+" is less than the line taxes "+o.amount(lineTaxes))
	}
	want, ok := orderTotal(o)
	switch {
	case !ok:
		add(CodeAmountOverflow, "total", "subtotal − discounts + shipping + tax does not fit in 64 bits")
	case want != o.Total:
		add(CodeTotalMismatch, "total", "total "+o.amount(o.Total)+" ≠ subtotal − discounts + shipping + tax = "+o.amount(want))
	}
	return vs
}

// ComputeTotals fills in the amounts that can be derived, for orders
// entered by hand where totals may be left out. It sets every line's
// Total to Quantity×UnitPrice − Discount + Tax and the order's Subtotal to
// Σ Quantity×UnitPrice; a DiscountTotal or TaxTotal of zero (left out) is
// set to the sum over the lines, while a non-zero one is kept as an
// order-level figure; ShippingTotal is kept; and Total is set to
// Subtotal − DiscountTotal + ShippingTotal + TaxTotal, as Check defines.
//
// When a line's total would overflow int64 that line's Total is left as
// it was; when an order figure would, no order figure is changed. Check
// then reports the overflow.
func (o *Order) ComputeTotals() {
	var (
		subtotal, discounts, taxes       int64
		subtotalOK, discountsOK, taxesOK = true, true, true
	)
	for i := range o.Lines {
		l := &o.Lines[i]
		gross, ok := MulAmounts(l.Quantity, l.UnitPrice)
		if ok {
			if t, ok := lineTotal(gross, l); ok {
				l.Total = t
			}
		}
		if !ok {
			subtotalOK = false
		} else if subtotalOK {
			subtotal, subtotalOK = AddAmounts(subtotal, gross)
		}
		if discountsOK {
			discounts, discountsOK = AddAmounts(discounts, l.Discount)
		}
		if taxesOK {
			taxes, taxesOK = AddAmounts(taxes, l.Tax)
		}
	}
	if !subtotalOK || (o.DiscountTotal == 0 && !discountsOK) || (o.TaxTotal == 0 && !taxesOK) {
		return
	}
	o.Subtotal = subtotal
	if o.DiscountTotal == 0 {
		o.DiscountTotal = discounts
	}
	if o.TaxTotal == 0 {
		o.TaxTotal = taxes
	}
	if t, ok := orderTotal(o); ok {
		o.Total = t
	}
}

// ViolationError turns the violations Check found into an EUNPROCESSABLE
// error whose Fields map each JSON path to what is wrong there (several
// problems at one path are joined with "; ") and whose Details hold the
// violations themselves under "violations", codes included. It returns
// nil when vs is empty; a caller returning it as an error must test
// len(vs) first, since a nil *ordergate.Error is a non-nil error.
func ViolationError(vs []Violation) *ordergate.Error {
	if len(vs) == 0 {
		return nil
	}
	fields := make(map[string]string, len(vs))
	for _, v := range vs {
		msg := v.Code + ": " + v.Message
		if prev, ok := fields[v.Field]; ok {
			msg = prev + "; " + msg
		}
		fields[v.Field] = msg
	}
	var b strings.Builder
	b.WriteString("the order breaks ")
	if len(vs) == 1 {
		b.WriteString("a rule: ")
	} else {
		b.WriteString(strconv.Itoa(len(vs)) + " rules, the first: ")
	}
	b.WriteString(vs[0].Field + ": " + vs[0].Message)
	return &ordergate.Error{
		Code:    ordergate.EUNPROCESSABLE,
		Message: b.String(),
		Fields:  fields,
		Details: map[string]any{"violations": vs},
	}
}

// amount renders v in the order's currency for a message.
func (o *Order) amount(v int64) string {
	return FormatAmount(v, o.Currency)
}

// lineTotal returns gross − l.Discount + l.Tax, where gross is
// l.Quantity×l.UnitPrice, and whether every step fits in int64.
func lineTotal(gross int64, l *Line) (int64, bool) {
	t, ok := SubAmounts(gross, l.Discount)
	if !ok {
		return 0, false
	}
	return AddAmounts(t, l.Tax)
}

// orderTotal returns Subtotal − DiscountTotal + ShippingTotal + TaxTotal
// and whether every step fits in int64.
func orderTotal(o *Order) (int64, bool) {
	t, ok := SubAmounts(o.Subtotal, o.DiscountTotal)
	if ok {
		t, ok = AddAmounts(t, o.ShippingTotal)
	}
	if ok {
		t, ok = AddAmounts(t, o.TaxTotal)
	}
	return t, ok
}
