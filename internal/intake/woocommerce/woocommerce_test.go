package woocommerce_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/parsertest"
	"github.com/ordergate/ordergate/internal/intake/woocommerce"
	"github.com/ordergate/ordergate/internal/order"
)

// fixtures lists the real WooCommerce payloads in testdata (see SOURCES.md).
var fixtures = []string{
	"v3-retrieve-order.json",
	"v3-list-orders.json",
	"legacy-v3-view-order.json",
}

func TestParseGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			orders, err := woocommerce.Parse(parsertest.MustRead(t, name))
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", name, err)
			}
			parsertest.Golden(t, name, strings.TrimSuffix(name, ".json")+".golden.json", parsertest.Check(orders))
		})
	}
}

// TestParseFindings pins what each real fixture is known to raise, so a
// golden update cannot silently drop a finding.
func TestParseFindings(t *testing.T) {
	tests := []struct {
		file           string
		wantViolations [][]string
		wantWarnings   [][]string
	}{
		{"v3-retrieve-order.json", [][]string{nil}, [][]string{{"line.sku_missing"}}},
		{"v3-list-orders.json", [][]string{nil, nil}, [][]string{{"line.sku_missing"}, {"line.sku_missing", "line.sku_missing"}}},
		{"legacy-v3-view-order.json", [][]string{nil}, [][]string{{"line.sku_missing", "line.sku_missing"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			orders, err := woocommerce.Parse(parsertest.MustRead(t, tt.file))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			var gotV, gotW [][]string
			for i := range orders {
				var v, w []string
				for _, x := range order.Check(&orders[i]) {
					v = append(v, x.Code)
				}
				for _, x := range orders[i].Warnings {
					w = append(w, x.Code)
				}
				gotV, gotW = append(gotV, v), append(gotW, w)
			}
			if !reflect.DeepEqual(gotV, tt.wantViolations) {
				t.Errorf("Check() codes = %q, want %q", gotV, tt.wantViolations)
			}
			if !reflect.DeepEqual(gotW, tt.wantWarnings) {
				t.Errorf("Warnings codes = %q, want %q", gotW, tt.wantWarnings)
			}
		})
	}
}

func TestParseShapes(t *testing.T) {
	bare := `{"id": 7, "number": "7", "currency": "JPY", "date_created_gmt": "2024-05-01T00:00:00",
		"line_items": [{"sku": "A", "quantity": 2, "subtotal": "3960", "total": "3960", "total_tax": "0", "price": 1980}], "total": "3960"}`
	legacy := `{"id": 8, "order_number": 8, "currency": "KWD", "created_at": "2015-01-26T20:00:21Z",
		"line_items": [{"sku": "B", "quantity": 1, "price": "1.250", "subtotal": "1.250", "total": "1.250"}], "subtotal": "1.250", "total": "1.250"}`
	tests := []struct {
		name string
		body string
		want []string // external ids
	}{
		{"v3 bare", bare, []string{"7"}},
		{"v3 array", "[" + bare + "," + bare + "]", []string{"7", "7"}},
		{"legacy order envelope", `{"order": ` + legacy + `}`, []string{"8"}},
		{"legacy orders envelope", `{"orders": [` + legacy + `]}`, []string{"8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders, err := woocommerce.Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			var got []string
			for _, o := range orders {
				got = append(got, o.ExternalID)
				if vs := order.Check(&o); vs != nil {
					t.Errorf("Check() = %+v, want none", vs)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse() ids = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseAmounts(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		wantLine     order.Line
		wantSum      [5]int64 // subtotal, discount, shipping, tax, total
		wantWarnings []string
		wantChecks   []string
	}{
		{"JPY with coupon and fee", `{"id": 1, "currency": "JPY", "line_items": [{"sku": "A", "quantity": 3, "price": 1930,
			"subtotal": "5940", "total": "5790", "total_tax": "579"}], "discount_total": "150", "shipping_total": "800",
			"fee_lines": [{"name": "Gift wrap", "total": "300"}], "coupon_lines": [{"code": "X", "discount": "150"}],
			"tax_lines": [{"tax_total": "579", "shipping_tax_total": "0"}], "total_tax": "579", "total": "7469"}`,
			order.Line{SKU: "A", Quantity: 3, UnitPrice: 1980, Discount: 150, Tax: 579, Total: 6369},
			[5]int64{5940, 150, 1100, 579, 7469}, []string{"totals.fees_in_shipping"}, nil},
		{"KWD", `{"id": 1, "currency": "KWD", "line_items": [{"sku": "A", "quantity": 2, "price": 12.345,
			"subtotal": "24.690", "total": "24.690", "total_tax": "0.001"}], "total_tax": "0.001", "total": "24.691"}`,
			order.Line{SKU: "A", Quantity: 2, UnitPrice: 12345, Tax: 1, Total: 24691},
			[5]int64{24690, 0, 0, 1, 24691}, nil, nil},
		{"price only", `{"id": 1, "currency": "USD", "line_items": [{"sku": "A", "quantity": 2, "price": 1.5}]}`,
			order.Line{SKU: "A", Quantity: 2, UnitPrice: 150, Total: 300},
			[5]int64{300, 0, 0, 0, 300}, nil, nil},
		{"subtotal not a multiple of quantity", `{"id": 1, "currency": "USD", "line_items": [{"sku": "A", "quantity": 3,
			"price": 3.3333333333333335, "subtotal": "10.00", "total": "10.00"}], "total": "10.00"}`,
			order.Line{SKU: "A", Quantity: 3, UnitPrice: 333, Total: 1000},
			[5]int64{1000, 0, 0, 0, 1000}, []string{"line.unit_price_inexact"}, []string{"line.total_mismatch", "totals.subtotal_mismatch"}},
		{"site-local date only", `{"id": 1, "currency": "USD", "date_created": "2017-03-22T16:28:02",
			"line_items": [{"sku": "A", "quantity": 1, "subtotal": "1.00", "total": "1.00"}]}`,
			order.Line{SKU: "A", Quantity: 1, UnitPrice: 100, Total: 100},
			[5]int64{100, 0, 0, 0, 100}, []string{"date.site_local"}, nil},
		{"coupons disagree", `{"id": 1, "currency": "USD", "line_items": [{"sku": "A", "quantity": 1, "subtotal": "1.00", "total": "0.90"}],
			"discount_total": "0.10", "coupon_lines": [{"code": "X", "discount": "0.20"}], "total": "0.90"}`,
			order.Line{SKU: "A", Quantity: 1, UnitPrice: 100, Discount: 10, Total: 90},
			[5]int64{100, 10, 0, 0, 90}, []string{"totals.discount_codes_mismatch"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders, err := woocommerce.Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			o := orders[0]
			if got := o.Lines[0]; got != tt.wantLine {
				t.Errorf("line = %+v, want %+v", got, tt.wantLine)
			}
			got := [5]int64{o.Subtotal, o.DiscountTotal, o.ShippingTotal, o.TaxTotal, o.Total}
			if got != tt.wantSum {
				t.Errorf("totals = %v, want %v", got, tt.wantSum)
			}
			var gotW, gotC []string
			for _, w := range o.Warnings {
				gotW = append(gotW, w.Code)
			}
			for _, v := range order.Check(&o) {
				gotC = append(gotC, v.Code)
			}
			if !reflect.DeepEqual(gotW, tt.wantWarnings) {
				t.Errorf("Warnings = %q, want %q", gotW, tt.wantWarnings)
			}
			if !reflect.DeepEqual(gotC, tt.wantChecks) {
				t.Errorf("Check() = %q, want %q", gotC, tt.wantChecks)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantCode   string
		wantFields []string
	}{
		{"empty", ` `, ordergate.EINVALID, nil},
		{"truncated", `[{"id": 1, "line_items": [{"sku": "A"`, ordergate.EINVALID, []string{"[0].line_items[0]"}},
		{"bad token", `{"order": {"id": 1, "currency": USD}}`, ordergate.EINVALID, []string{"order.currency"}},
		{"number", `727`, ordergate.EUNPROCESSABLE, []string{"$"}},
		{"empty array", `[]`, ordergate.EUNPROCESSABLE, []string{"$"}},
		{"no id", `{"currency": "USD"}`, ordergate.EUNPROCESSABLE, []string{"id"}},
		{"no currency", `[{"id": 1, "currency": "USD"}, {"id": 2}]`, ordergate.EUNPROCESSABLE, []string{"[1].currency"}},
		{"unknown currency", `{"order": {"id": 1, "currency": "XXX"}}`, ordergate.EUNPROCESSABLE, []string{"order.currency"}},
		{"price of wrong kind", `{"id": 1, "currency": "USD", "line_items": [{"price": true, "subtotal": "1.00"}]}`,
			ordergate.EUNPROCESSABLE, []string{"line_items[0].price"}},
		{"name of wrong type", `[{"id": 1, "currency": "USD", "line_items": [{}, {"name": 5}]}]`,
			ordergate.EUNPROCESSABLE, []string{"[0].line_items[1].name"}},
		{"fractional quantity", `{"id": 1, "currency": "USD", "line_items": [{"quantity": 1.5, "subtotal": "1"}]}`,
			ordergate.EUNPROCESSABLE, []string{"line_items[0].quantity"}},
		{"JPY with decimals", `{"id": 1, "currency": "JPY", "line_items": [{"quantity": 1, "subtotal": "25.99", "total": "25.99"}], "total": "25.99"}`,
			ordergate.EUNPROCESSABLE, []string{"line_items[0].subtotal", "line_items[0].total", "total"}},
		{"legacy string price not exact", `{"order": {"id": 1, "currency": "USD", "line_items": [{"quantity": 1, "price": "1.234"}]}}`,
			ordergate.EUNPROCESSABLE, []string{"order.line_items[0].price"}},
		{"bad date", `{"id": 1, "currency": "USD", "date_created_gmt": "22/03/2017"}`, ordergate.EUNPROCESSABLE, []string{"date_created_gmt"}},
		{"wrong kind behind an unknown currency", `[{"id": 1, "currency": "XXX", "line_items": [{"sku": ["A"]}]}]`,
			ordergate.EUNPROCESSABLE, []string{"[0].line_items[0].sku"}},
		{"array element of wrong kind", `[{"id": 1, "currency": "USD"}, 7]`, ordergate.EUNPROCESSABLE, []string{"[1]"}},
		{"prices_include_tax of wrong type", `{"id": 1, "currency": "USD", "prices_include_tax": "no"}`, ordergate.EUNPROCESSABLE, []string{"prices_include_tax"}},
		{"tax_total of wrong kind", `{"id": 1, "currency": "USD", "tax_lines": [{"tax_total": true}]}`,
			ordergate.EUNPROCESSABLE, []string{"tax_lines[0].tax_total"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := woocommerce.Parse([]byte(tt.body))
			var e *ordergate.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error = %v, want *ordergate.Error", err)
			}
			if e.Code != tt.wantCode {
				t.Errorf("Parse() code = %q, want %q (%s)", e.Code, tt.wantCode, e.Message)
			}
			var got []string
			for k := range e.Fields {
				got = append(got, k)
			}
			if !parsertest.SameSet(got, tt.wantFields) {
				t.Errorf("Parse() fields = %q, want %q (%s)", e.Fields, tt.wantFields, e.Message)
			}
		})
	}
}

func TestParseSyntaxErrorOffset(t *testing.T) {
	body := "{\"order\": {\n  \"id\": 1,\n  \"currency\": \"USD\",,\n}}"
	_, err := woocommerce.Parse([]byte(body))
	var e *ordergate.Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse() error = %v, want *ordergate.Error", err)
	}
	got := []any{e.Code, e.Details["offset"], e.Details["line"], e.Details["column"]}
	want := []any{ordergate.EINVALID, int64(44), 3, 21}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse() = %v, want %v (%s)", got, want, e.Message)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range fixtures {
		f.Add(parsertest.MustRead(f, name))
	}
	f.Add([]byte(`[{"id": 1, "currency": "JPY", "line_items": [{"quantity": 3, "price": 3.3333333333333335, "subtotal": "10", "total": "10"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		orders, err := woocommerce.Parse(data)
		if !parsertest.FuzzError(t, orders, err) {
			return
		}
		if len(orders) == 0 {
			t.Fatalf("Parse() returned no orders and no error")
		}
		for i := range orders {
			parsertest.FuzzOrder(t, order.ChannelWooCommerce, i, &orders[i])
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range fixtures {
		parsertest.Bench(b, name, parsertest.MustRead(b, name), woocommerce.Parse)
	}
}
