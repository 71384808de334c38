package order

import (
	"math"
	"reflect"
	"testing"

	"github.com/ordergate/ordergate"
)

// apiExample returns the canonical order of the API.md example: two lines
// of 199.00 USD, 6% tax.
func apiExample() Order {
	return Order{
		Currency: "USD",
		Lines: []Line{
			{SKU: "IPOD2008GREEN", Quantity: 1, UnitPrice: 19900, Total: 19900},
			{SKU: "IPOD2008RED", Quantity: 1, UnitPrice: 19900, Total: 19900},
		},
		Subtotal: 39800, TaxTotal: 1194, Total: 40994,
	}
}

// codesAt lists the violations as "code@field" for compact comparison.
func codesAt(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Code+"@"+v.Field)
	}
	return out
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		modify func(o *Order)
		want   []string
	}{
		{"api example", func(o *Order) {}, nil},
		{"no lines", func(o *Order) {
			o.Lines = nil
		}, []string{"lines.empty@lines", "totals.subtotal_mismatch@subtotal"}},
		{"zero quantity", func(o *Order) {
			o.Lines[1].Quantity, o.Lines[1].Total = 0, 0
			o.Subtotal, o.Total = 19900, 21094
		}, []string{"quantity.not_positive@lines[1].quantity"}},
		{"negative quantity", func(o *Order) {
			o.Lines[0].Quantity, o.Lines[0].Total = -1, -19900
			o.Subtotal, o.Total = 0, 1194
		}, []string{"quantity.not_positive@lines[0].quantity", "amount.negative@lines[0].total"}},
		{"negative unit price", func(o *Order) {
			o.Lines[0].UnitPrice, o.Lines[0].Total = -100, -100
			o.Subtotal, o.Total = 19800, 20994
		}, []string{"amount.negative@lines[0].unit_price", "amount.negative@lines[0].total"}},
		{"negative line discount and tax", func(o *Order) {
			o.Lines[0].Discount, o.Lines[0].Tax = -5, -5
		}, []string{"amount.negative@lines[0].discount", "amount.negative@lines[0].tax"}},
		{"negative order figures", func(o *Order) {
			o.DiscountTotal, o.ShippingTotal = -10, -10
			o.Total = 40994
		}, []string{"amount.negative@discount_total", "amount.negative@shipping_total", "totals.discount_below_lines@discount_total"}},
		{"negative total", func(o *Order) {
			o.DiscountTotal, o.Total = 50000, -9006
		}, []string{"amount.negative@total"}},
		{"unknown currency", func(o *Order) {
			o.Currency = "XYZ"
		}, []string{"currency.unknown@currency"}},
		{"lower-case currency", func(o *Order) {
			o.Currency = "usd"
		}, []string{"currency.unknown@currency"}},
		{"line total wrong", func(o *Order) {
			o.Lines[1].Total = 19800
		}, []string{"line.total_mismatch@lines[1].total"}},
		{"line discount and tax counted", func(o *Order) {
			o.Lines[0].Discount, o.Lines[0].Tax, o.Lines[0].Total = 1000, 597, 19497
			o.DiscountTotal, o.TaxTotal, o.Total = 1000, 1194, 39994
		}, nil},
		{"line discount missing from order", func(o *Order) {
			o.Lines[0].Discount, o.Lines[0].Total = 1000, 18900
		}, []string{"totals.discount_below_lines@discount_total"}},
		{"order-level discount", func(o *Order) {
			o.DiscountTotal, o.Total = 1000, 39994
		}, nil},
		{"subtotal after discount is not ours", func(o *Order) {
			o.Lines[0].Discount, o.Lines[0].Total = 1000, 18900
			o.Subtotal, o.DiscountTotal, o.Total = 38800, 1000, 38994
		}, []string{"totals.subtotal_mismatch@subtotal"}},
		{"shopify ruby-order: three lines, subtotal of two", func(o *Order) {
			o.Lines = append(o.Lines, Line{SKU: "IPOD2008BLACK", Quantity: 1, UnitPrice: 19900, Total: 19900})
		}, []string{"totals.subtotal_mismatch@subtotal"}},
		{"total wrong", func(o *Order) {
			o.ShippingTotal = 500
		}, []string{"totals.total_mismatch@total"}},
		{"line overflow", func(o *Order) {
			o.Lines[0].Quantity = math.MaxInt64
		}, []string{"amount.overflow@lines[0].unit_price", "amount.overflow@subtotal"}},
		{"line total overflow", func(o *Order) {
			o.Lines[0].Quantity, o.Lines[0].UnitPrice, o.Lines[0].Tax = 1, math.MaxInt64, 1
			o.Lines[0].Total = 0
			o.Subtotal, o.TaxTotal, o.Total = 0, 0, 0
		}, []string{"amount.overflow@lines[0].total", "amount.overflow@subtotal", "totals.tax_below_lines@tax_total"}},
		{"subtotal overflow", func(o *Order) {
			o.Lines[0].UnitPrice, o.Lines[0].Total = math.MaxInt64, math.MaxInt64
		}, []string{"amount.overflow@subtotal"}},
		{"total overflow", func(o *Order) {
			o.ShippingTotal = math.MaxInt64
		}, []string{"amount.overflow@total"}},
		{"discount of MinInt64", func(o *Order) {
			o.DiscountTotal = math.MinInt64
		}, []string{"amount.negative@discount_total", "totals.discount_below_lines@discount_total", "amount.overflow@total"}},
		{"line discount of MinInt64", func(o *Order) {
			o.Lines[0].Discount = math.MinInt64
		}, []string{"amount.negative@lines[0].discount", "amount.overflow@lines[0].total"}},
		{"quantity and price of MinInt64 and -1", func(o *Order) {
			o.Lines[0].Quantity, o.Lines[0].UnitPrice = -1, math.MinInt64
		}, []string{"quantity.not_positive@lines[0].quantity", "amount.negative@lines[0].unit_price", "amount.overflow@lines[0].unit_price", "amount.overflow@subtotal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := apiExample()
			tt.modify(&o)
			got := codesAt(Check(&o))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckCurrencies(t *testing.T) {
	tests := []struct {
		name string
		o    Order
		want []string
	}{
		{"JPY zero decimals", Order{
			Currency: "JPY",
			Lines: []Line{
				{SKU: "A", Quantity: 3, UnitPrice: 1980, Discount: 200, Tax: 574, Total: 6314},
				{SKU: "B", Quantity: 1, UnitPrice: 500, Tax: 50, Total: 550},
			},
			Subtotal: 6440, DiscountTotal: 200, ShippingTotal: 800, TaxTotal: 624, Total: 7664,
		}, nil},
		{"JPY total off by one yen", Order{
			Currency: "JPY",
			Lines:    []Line{{SKU: "A", Quantity: 1, UnitPrice: 1980, Total: 1980}},
			Subtotal: 1980, Total: 1981,
		}, []string{"totals.total_mismatch@total"}},
		{"KWD three decimals", Order{
			Currency: "KWD",
			Lines: []Line{
				{SKU: "A", Quantity: 2, UnitPrice: 12345, Discount: 1000, Total: 23690},
				{SKU: "B", Quantity: 1, UnitPrice: 1, Tax: 1, Total: 2},
			},
			Subtotal: 24691, DiscountTotal: 1000, ShippingTotal: 1500, TaxTotal: 1, Total: 25192,
		}, nil},
		{"KWD subtotal at two decimals", Order{
			Currency: "KWD",
			Lines:    []Line{{SKU: "A", Quantity: 1, UnitPrice: 12345, Total: 12345}},
			Subtotal: 1234, Total: 1234,
		}, []string{"totals.subtotal_mismatch@subtotal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codesAt(Check(&tt.o))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckMessage(t *testing.T) {
	o := Order{
		Currency: "KWD",
		Lines:    []Line{{SKU: "A", Quantity: 1, UnitPrice: 12345, Total: 12345}},
		Subtotal: 12345, Total: 12000,
	}
	got := Check(&o)
	want := []Violation{{
		Code:    CodeTotalMismatch,
		Field:   "total",
		Message: "total 12.000 ≠ subtotal − discounts + shipping + tax = 12.345",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check() = %+v, want %+v", got, want)
	}
}

func TestCheckNil(t *testing.T) {
	got := codesAt(Check(nil))
	want := []string{"lines.empty@lines"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check(nil) = %q, want %q", got, want)
	}
}

func TestComputeTotals(t *testing.T) {
	tests := []struct {
		name string
		in   Order
		want Order
	}{
		{"api example left out", Order{
			Currency: "USD",
			Lines:    []Line{{Quantity: 1, UnitPrice: 19900}, {Quantity: 1, UnitPrice: 19900, Tax: 1194}},
		}, Order{
			Currency: "USD",
			Lines:    []Line{{Quantity: 1, UnitPrice: 19900, Total: 19900}, {Quantity: 1, UnitPrice: 19900, Tax: 1194, Total: 21094}},
			Subtotal: 39800, TaxTotal: 1194, Total: 40994,
		}},
		{"order-level discount, shipping and tax kept", Order{
			Currency: "JPY",
			Lines:    []Line{{Quantity: 3, UnitPrice: 1980, Discount: 200}},
			Subtotal: 1, DiscountTotal: 500, ShippingTotal: 800, TaxTotal: 634, Total: 1,
		}, Order{
			Currency: "JPY",
			Lines:    []Line{{Quantity: 3, UnitPrice: 1980, Discount: 200, Total: 5740}},
			Subtotal: 5940, DiscountTotal: 500, ShippingTotal: 800, TaxTotal: 634, Total: 6874,
		}},
		{"KWD line discounts summed", Order{
			Currency: "KWD",
			Lines:    []Line{{Quantity: 2, UnitPrice: 12345, Discount: 1000}, {Quantity: 1, UnitPrice: 1, Discount: 1}},
		}, Order{
			Currency: "KWD",
			Lines:    []Line{{Quantity: 2, UnitPrice: 12345, Discount: 1000, Total: 23690}, {Quantity: 1, UnitPrice: 1, Discount: 1, Total: 0}},
			Subtotal: 24691, DiscountTotal: 1001, Total: 23690,
		}},
		{"overflow leaves figures alone", Order{
			Currency: "USD",
			Lines:    []Line{{Quantity: 2, UnitPrice: math.MaxInt64, Total: 7}},
			Subtotal: 5, Total: 6,
		}, Order{
			Currency: "USD",
			Lines:    []Line{{Quantity: 2, UnitPrice: math.MaxInt64, Total: 7}},
			Subtotal: 5, Total: 6,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.Lines = append([]Line(nil), tt.in.Lines...)
			got.ComputeTotals()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ComputeTotals() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestComputeTotalsThenCheck: whatever ComputeTotals fills in, Check
// accepts, unless the inputs themselves break a rule.
func TestComputeTotalsThenCheck(t *testing.T) {
	for _, o := range []Order{
		apiExample(),
		{Currency: "JPY", Lines: []Line{{Quantity: 7, UnitPrice: 333, Discount: 10, Tax: 233}}, ShippingTotal: 500},
		{Currency: "KWD", Lines: []Line{{Quantity: 1, UnitPrice: 1}, {Quantity: 9, UnitPrice: 999, Tax: 899}}, DiscountTotal: 5},
	} {
		o.ComputeTotals()
		if got := Check(&o); got != nil {
			t.Errorf("Check(ComputeTotals(%+v)) = %+v, want none", o, got)
		}
	}
}

func TestViolationError(t *testing.T) {
	if got := ViolationError(nil); got != nil {
		t.Errorf("ViolationError(nil) = %v, want nil", got)
	}
	vs := []Violation{
		{Code: CodeQuantityNotPositive, Field: "lines[0].quantity", Message: "quantity 0 is not positive"},
		{Code: CodeAmountNegative, Field: "lines[0].total", Message: "total -1.00 is negative"},
		{Code: CodeLineTotalMismatch, Field: "lines[0].total", Message: "line total -1.00 ≠ 0.00"},
	}
	e := ViolationError(vs)
	if got, want := e.Code, ordergate.EUNPROCESSABLE; got != want {
		t.Errorf("ViolationError().Code = %q, want %q", got, want)
	}
	wantFields := map[string]string{
		"lines[0].quantity": "quantity.not_positive: quantity 0 is not positive",
		"lines[0].total":    "amount.negative: total -1.00 is negative; line.total_mismatch: line total -1.00 ≠ 0.00",
	}
	if got := e.Fields; !reflect.DeepEqual(got, wantFields) {
		t.Errorf("ViolationError().Fields = %q, want %q", got, wantFields)
	}
	if got, want := e.Message, "the order breaks 3 rules, the first: lines[0].quantity: quantity 0 is not positive"; got != want {
		t.Errorf("ViolationError().Message = %q, want %q", got, want)
	}
	if got := e.Details["violations"]; !reflect.DeepEqual(got, vs) {
		t.Errorf("ViolationError().Details[violations] = %v, want %v", got, vs)
	}
}
