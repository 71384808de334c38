package shopify_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/parsertest"
	"github.com/ordergate/ordergate/internal/intake/shopify"
	"github.com/ordergate/ordergate/internal/order"
)

// fixtures lists the real Shopify payloads in testdata (see SOURCES.md).
var fixtures = []string{
	"ruby-order.json",
	"ruby-order-with-properties.json",
	"python-order.json",
	"python-orders.json",
}

func TestParseGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			orders, err := shopify.Parse(parsertest.MustRead(t, name))
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
		wantViolations []string
		wantWarnings   []string
	}{
		{"ruby-order.json", []string{"totals.subtotal_mismatch"}, []string{"totals.discount_codes_mismatch"}},
		{"python-order.json", []string{"totals.subtotal_mismatch"}, []string{"totals.discount_codes_mismatch"}},
		{"ruby-order-with-properties.json", []string{"totals.subtotal_mismatch"}, []string{"line.sku_missing", "line.sku_missing"}},
		{"python-orders.json", []string{"lines.empty", "totals.subtotal_mismatch"}, []string{"totals.channel_subtotal_mismatch"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			orders, err := shopify.Parse(parsertest.MustRead(t, tt.file))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got, want := len(orders), 1; got != want {
				t.Fatalf("len(Parse()) = %d, want %d", got, want)
			}
			var gotV, gotW []string
			for _, v := range order.Check(&orders[0]) {
				gotV = append(gotV, v.Code)
			}
			for _, w := range orders[0].Warnings {
				gotW = append(gotW, w.Code)
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
	bare := `{"id": 7, "name": "#7", "currency": "JPY", "created_at": "2024-05-01T09:00:00+09:00",
		"line_items": [{"sku": "A", "quantity": 2, "price": "1980"}], "total_line_items_price": "3960", "total_price": "3960"}`
	tests := []struct {
		name string
		body string
		want []string // external ids
	}{
		{"bare", bare, []string{"7"}},
		{"order envelope", `{"order": ` + bare + `}`, []string{"7"}},
		{"orders envelope", `{"orders": [` + bare + `, {"id": "8", "currency": "KWD"}]}`, []string{"7", "8"}},
		{"leading white space", " \n\t" + bare, []string{"7"}},
		{"repeated key: the last counts", `{"order": {"id": 1, "currency": "USD"}, "order": ` + bare + `}`, []string{"7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders, err := shopify.Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			var got []string
			for _, o := range orders {
				got = append(got, o.ExternalID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse() ids = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseAmounts(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantLine order.Line
		wantSum  [5]int64 // subtotal, discount, shipping, tax, total
	}{
		{"JPY", `{"id": 1, "currency": "JPY", "line_items": [{"sku": "A", "quantity": 3, "price": "1980",
			"discount_allocations": [{"amount": "100"}, {"amount": "50"}], "tax_lines": [{"price": "579"}]}],
			"shipping_lines": [{"price": "800"}]}`,
			order.Line{SKU: "A", Quantity: 3, UnitPrice: 1980, Discount: 150, Tax: 579, Total: 6369},
			[5]int64{5940, 150, 800, 579, 7169}},
		{"KWD", `{"id": 1, "currency": "KWD", "line_items": [{"sku": "A", "quantity": 1, "price": "12.345", "total_discount": "0.005"}],
			"total_line_items_price": "12.345", "total_discounts": "0.005", "total_tax": "0", "total_price": "12.340"}`,
			order.Line{SKU: "A", Quantity: 1, UnitPrice: 12345, Discount: 5, Total: 12340},
			[5]int64{12345, 5, 0, 0, 12340}},
		{"numbers instead of strings", `{"id": 1, "currency": "USD", "line_items": [{"sku": "A", "quantity": "2", "price": 1.5}]}`,
			order.Line{SKU: "A", Quantity: 2, UnitPrice: 150, Total: 300},
			[5]int64{300, 0, 0, 0, 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders, err := shopify.Parse([]byte(tt.body))
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
			if vs := order.Check(&o); vs != nil {
				t.Errorf("Check() = %+v, want none", vs)
			}
		})
	}
}

// TestStatedTotalTakenAsIs: a stated total_price is the order's total,
// even when the parts it would be computed from do not add up within
// int64 (order.Check reports such an order; parsing does not refuse it).
func TestStatedTotalTakenAsIs(t *testing.T) {
	body := `{"order": {"id": 1, "currency": "USD", "total_price": "1.00", "total_line_items_price": "90000000000000000",
		"shipping_lines": [{"price": "90000000000000000"}], "total_discounts": "0", "total_tax": "0"}}`
	orders, err := shopify.Parse([]byte(body))
	if err != nil || len(orders) != 1 || orders[0].Total != 100 {
		t.Fatalf("Parse() = %+v, %v; want one order with the stated total 1.00", orders, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantCode   string
		wantFields []string
	}{
		{"empty", ``, ordergate.EINVALID, nil},
		{"truncated", `{"order": {"id": 1, "line_items": [{"sku": "A"`, ordergate.EINVALID, []string{"order.line_items[0]"}},
		{"bad token", `{"order": {"id": 1, "currency": USD}}`, ordergate.EINVALID, []string{"order.currency"}},
		{"array", `[{"id": 1}]`, ordergate.EUNPROCESSABLE, []string{"$"}},
		{"string", `"order"`, ordergate.EUNPROCESSABLE, []string{"$"}},
		{"no id", `{"order": {"currency": "USD"}}`, ordergate.EUNPROCESSABLE, []string{"order.id"}},
		{"no currency", `{"order": {"id": 1}}`, ordergate.EUNPROCESSABLE, []string{"order.currency"}},
		{"unknown currency", `{"order": {"id": 1, "currency": "XXX"}}`, ordergate.EUNPROCESSABLE, []string{"order.currency"}},
		{"empty orders", `{"orders": []}`, ordergate.EUNPROCESSABLE, []string{"orders"}},
		{"id of wrong kind", `{"order": {"id": true, "currency": "USD"}}`, ordergate.EUNPROCESSABLE, []string{"order.id"}},
		{"name of wrong type", `{"order": {"id": 1, "currency": "USD", "name": 1001}}`, ordergate.EUNPROCESSABLE, []string{"order.name"}},
		{"line_items not an array", `{"order": {"id": 1, "currency": "USD", "line_items": {}}}`, ordergate.EUNPROCESSABLE, []string{"order.line_items"}},
		{"sku of wrong type", `{"orders": [{"id": 1, "currency": "USD"}, {"id": 2, "currency": "USD", "line_items": [{}, {"sku": 5}]}]}`,
			ordergate.EUNPROCESSABLE, []string{"orders[1].line_items[1].sku"}},
		{"fractional quantity", `{"id": 1, "currency": "USD", "line_items": [{"quantity": 1.5, "price": "1"}]}`,
			ordergate.EUNPROCESSABLE, []string{"line_items[0].quantity"}},
		{"JPY with decimals", `{"order": {"id": 1, "currency": "JPY", "line_items": [{"quantity": 1, "price": "25.99"}], "total_price": "25.99"}}`,
			ordergate.EUNPROCESSABLE, []string{"order.line_items[0].price", "order.total_price"}},
		{"not a decimal", `{"order": {"id": 1, "currency": "USD", "total_tax": "1,00"}}`, ordergate.EUNPROCESSABLE, []string{"order.total_tax"}},
		{"subtotal_price of wrong kind", `{"order": {"id": 1, "currency": "USD", "subtotal_price": true, "total_line_items_price": "1.00", "total_discounts": "0.00"}}`,
			ordergate.EUNPROCESSABLE, []string{"order.subtotal_price"}},
		{"bad date", `{"order": {"id": 1, "currency": "USD", "created_at": "yesterday"}}`, ordergate.EUNPROCESSABLE, []string{"order.created_at"}},
		{"overflow", `{"order": {"id": 1, "currency": "USD", "line_items": [{"quantity": 9223372036854775807, "price": "2"}]}}`,
			ordergate.EUNPROCESSABLE, []string{"order.line_items[0].price"}},
		{"wrong kind behind an unknown currency", `{"orders": [{"id": 1, "currency": "XXX", "line_items": [{"sku": 5}]}]}`,
			ordergate.EUNPROCESSABLE, []string{"orders[0].line_items[0].sku"}},
		{"odd key in path", `{"order": {"id": 1, "currency": "USD", "line_items": [{"sku": "A", "tax_lines": [{"price": {}}]}]}}`,
			ordergate.EUNPROCESSABLE, []string{"order.line_items[0].tax_lines[0].price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shopify.Parse([]byte(tt.body))
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
	_, err := shopify.Parse([]byte(body))
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
	f.Add([]byte(`{"orders": [{"id": 1, "currency": "JPY", "line_items": [{"quantity": 2, "price": "3"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		orders, err := shopify.Parse(data)
		if !parsertest.FuzzError(t, orders, err) {
			return
		}
		if len(orders) == 0 {
			t.Fatalf("Parse() returned no orders and no error")
		}
		for i := range orders {
			parsertest.FuzzOrder(t, order.ChannelShopify, i, &orders[i])
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range fixtures {
		parsertest.Bench(b, name, parsertest.MustRead(b, name), shopify.Parse)
	}
}
