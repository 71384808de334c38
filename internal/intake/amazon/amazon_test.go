package amazon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/amazon"
	"github.com/ordergate/ordergate/internal/intake/parsertest"
	"github.com/ordergate/ordergate/internal/order"
)

// result is what a golden file holds: the orders, or the error.
type result struct {
	Orders []parsertest.Checked `json:"orders,omitempty"`
	Error  *ordergate.Error     `json:"error,omitempty"`
}

// intakeCase is one intake body assembled from the real SP-API fixtures
// in testdata (see SOURCES.md), which are used unchanged: the intake body
// is {"order": …, "items": …} and SP-API returns the two halves from two
// calls.
type intakeCase struct {
	name  string
	body  func(tb testing.TB) []byte
	valid bool
}

var cases = []intakeCase{
	// getOrder and getOrderItems sandbox responses for 902-1845936-5435065.
	{"sandbox-responses", func(tb testing.TB) []byte {
		return join(tb, parsertest.MustRead(tb, "getOrder-sandbox-200.json"), parsertest.MustRead(tb, "getOrderItems-sandbox-200.json"))
	}, true},
	// The same order as it appears in the getOrders sandbox list (a bare
	// Order) with the bare OrderItems array.
	{"sandbox-bare", func(tb testing.TB) []byte {
		return join(tb, extract(tb, "getOrders-sandbox-200.json", "payload", "Orders", 0),
			extract(tb, "getOrderItems-sandbox-200.json", "payload", "OrderItems"))
	}, true},
	// The documentation's Pending order: no OrderTotal and no items yet,
	// so no currency at all.
	{"doc-pending", func(tb testing.TB) []byte {
		return join(tb, extract(tb, "getOrders-doc-example.json", "payload", "Orders", 0), []byte(`[]`))
	}, false},
	// The same Pending order with an unpriced item and one priced item.
	{"doc-pending-with-items", func(tb testing.TB) []byte {
		return join(tb, extract(tb, "getOrders-doc-example.json", "payload", "Orders", 0),
			[]byte(`[{"ASIN": "B0", "SellerSKU": "A", "QuantityOrdered": 1}, {"ASIN": "B1", "SellerSKU": "B", "QuantityOrdered": 2, "ItemPrice": {"CurrencyCode": "USD", "Amount": "3.00"}}]`))
	}, true},
	// The documentation's getOrderItems example, with a minimal order of
	// the same id: JPY amounts with decimals, a GBP gift wrap and a
	// NextToken.
	{"doc-items", func(tb testing.TB) []byte {
		return join(tb, []byte(`{"AmazonOrderId": "903-1671087-0812628", "OrderStatus": "Unshipped", "PurchaseDate": "2013-09-06T00:00:00Z"}`),
			parsertest.MustRead(tb, "getOrderItems-doc-example.json"))
	}, false},
}

func TestParseGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orders, err := amazon.Parse(c.body(t))
			var got result
			if err != nil {
				if c.valid {
					t.Fatalf("Parse() error = %v", err)
				}
				if !errors.As(err, &got.Error) {
					t.Fatalf("Parse() error = %v, want *ordergate.Error", err)
				}
			} else if !c.valid {
				t.Fatalf("Parse() = %d orders, want an error", len(orders))
			}
			got.Orders = parsertest.Check(orders)
			parsertest.Golden(t, c.name, c.name+".golden.json", got)
		})
	}
}

// TestParseFindings pins what each real fixture is known to raise, so a
// golden update cannot silently drop a finding.
func TestParseFindings(t *testing.T) {
	t.Run("sandbox adds up", func(t *testing.T) {
		for _, c := range cases[:2] {
			orders, err := amazon.Parse(c.body(t))
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", c.name, err)
			}
			o := orders[0]
			got := [4]int64{o.Subtotal, o.TaxTotal, o.Total, int64(len(o.Warnings))}
			want := [4]int64{1000, 101, 1101, 0}
			if got != want {
				t.Errorf("Parse(%s) subtotal, tax, total, warnings = %v, want %v", c.name, got, want)
			}
			if vs := order.Check(&o); vs != nil {
				t.Errorf("Check(%s) = %+v, want none", c.name, vs)
			}
		}
	})
	t.Run("pending without items has no currency", func(t *testing.T) {
		_, err := amazon.Parse(cases[2].body(t))
		var e *ordergate.Error
		if !errors.As(err, &e) || e.Code != ordergate.EUNPROCESSABLE {
			t.Fatalf("Parse() error = %v, want EUNPROCESSABLE", err)
		}
		if got, want := e.Fields, map[string]string{"order.OrderTotal": "required: neither the order nor its items state a currency"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Parse() fields = %q, want %q", got, want)
		}
	})
	t.Run("pending with items has no stated total", func(t *testing.T) {
		orders, err := amazon.Parse(cases[3].body(t))
		if err != nil {
			t.Fatalf("Parse() error = %v", err)
		}
		o := orders[0]
		var gotW []string
		for _, w := range o.Warnings {
			gotW = append(gotW, w.Code)
		}
		if vs := order.Check(&o); vs != nil {
			t.Errorf("Check() = %+v, want none", vs)
		}
		if want := []string{"totals.not_stated"}; !reflect.DeepEqual(gotW, want) {
			t.Errorf("Warnings = %q, want %q", gotW, want)
		}
		got := []any{o.Currency, o.Total, o.PaymentStatus, o.Terms.PONumber, o.Customer.Email}
		want := []any{"USD", int64(300), "pending", "1234567890123", "user@example.com"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("currency, total, payment, PO, email = %v, want %v", got, want)
		}
	})
	t.Run("doc items: JPY decimals, GBP gift wrap, NextToken", func(t *testing.T) {
		_, err := amazon.Parse(cases[4].body(t))
		var e *ordergate.Error
		if !errors.As(err, &e) || e.Code != ordergate.EUNPROCESSABLE {
			t.Fatalf("Parse() error = %v, want EUNPROCESSABLE", err)
		}
		for _, path := range []string{
			"items.payload.NextToken",
			"items.payload.OrderItems[0].ItemPrice.Amount",
			"items.payload.OrderItems[0].ShippingPrice.Amount",
			"items.payload.OrderItems[0].BuyerInfo.GiftWrapPrice.CurrencyCode",
			"items.payload.OrderItems[1].ItemPrice.Amount",
			"items.payload.OrderItems[1].BuyerInfo.GiftWrapPrice.Amount",
		} {
			if _, ok := e.Fields[path]; !ok {
				t.Errorf("Parse() fields = %q, want one at %s", e.Fields, path)
			}
		}
	})
}

func TestParseAmounts(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		wantLines    []order.Line
		wantSum      [5]int64 // subtotal, discount, shipping, tax, total
		wantWarnings []string
		wantChecks   []string
	}{
		{"JPY", `{"order": {"AmazonOrderId": "1", "OrderTotal": {"CurrencyCode": "JPY", "Amount": "4330"}},
			"items": [{"SellerSKU": "A", "QuantityOrdered": 2, "ItemPrice": {"CurrencyCode": "JPY", "Amount": "3960"},
			"ItemTax": {"CurrencyCode": "JPY", "Amount": "396"}, "PromotionDiscount": {"CurrencyCode": "JPY", "Amount": "100"},
			"ShippingPrice": {"CurrencyCode": "JPY", "Amount": "80"}, "ShippingDiscount": {"CurrencyCode": "JPY", "Amount": "6"}}]}`,
			[]order.Line{{SKU: "A", Quantity: 2, UnitPrice: 1980, Discount: 100, Tax: 396, Total: 4256}},
			[5]int64{3960, 106, 80, 396, 4330}, nil, nil},
		{"KWD with gift wrap", `{"order": {"payload": {"AmazonOrderId": "1", "OrderTotal": {"CurrencyCode": "KWD", "Amount": "12.846"}}},
			"items": {"payload": {"AmazonOrderId": "1", "OrderItems": [{"SellerSKU": "A", "QuantityOrdered": 1,
			"ItemPrice": {"CurrencyCode": "KWD", "Amount": "12.345"},
			"BuyerInfo": {"GiftWrapPrice": {"CurrencyCode": "KWD", "Amount": "0.500"}, "GiftWrapTax": {"CurrencyCode": "KWD", "Amount": "0.001"}}}]}}}`,
			[]order.Line{{SKU: "A", Quantity: 1, UnitPrice: 12345, Total: 12345}},
			[5]int64{12345, 0, 500, 1, 12846}, []string{"totals.fees_in_shipping"}, nil},
		{"ItemPrice not a multiple of quantity", `{"order": {"AmazonOrderId": "1", "OrderTotal": {"CurrencyCode": "USD", "Amount": "10.00"}},
			"items": [{"SellerSKU": "A", "QuantityOrdered": 3, "ItemPrice": {"CurrencyCode": "USD", "Amount": "10.00"}}]}`,
			[]order.Line{{SKU: "A", Quantity: 3, UnitPrice: 333, Total: 1000}},
			[5]int64{1000, 0, 0, 0, 1000}, []string{"line.unit_price_inexact"}, []string{"line.total_mismatch", "totals.subtotal_mismatch"}},
		{"no SellerSKU, zero quantity", `{"order": {"AmazonOrderId": "1", "OrderTotal": {"CurrencyCode": "USD", "Amount": "0"}},
			"items": [{"ASIN": "B0", "QuantityOrdered": 0, "ItemPrice": {"CurrencyCode": "USD", "Amount": "0.00"}}]}`,
			[]order.Line{{Quantity: 0}},
			[5]int64{0, 0, 0, 0, 0}, []string{"line.sku_missing"}, []string{"quantity.not_positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders, err := amazon.Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			o := orders[0]
			if !reflect.DeepEqual(o.Lines, tt.wantLines) {
				t.Errorf("lines = %+v, want %+v", o.Lines, tt.wantLines)
			}
			got := [5]int64{o.Subtotal, o.DiscountTotal, o.ShippingTotal, o.TaxTotal, o.Total}
			if got != tt.wantSum {
				t.Errorf("totals = %v, want %v", got, tt.wantSum)
			}
			var gotW, gotC []string
			for _, w := range o.Warnings {
				gotW = append(gotW, w.Code)
				// A line's warning names the item, at its path in the payload.
				if strings.HasPrefix(w.Code, "line.") && !strings.HasPrefix(w.Message, "items[0]") {
					t.Errorf("warning %s = %q, want it to start with the item's path items[0]", w.Code, w.Message)
				}
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
	usd := `{"CurrencyCode": "USD", "Amount": "1.00"}`
	tests := []struct {
		name       string
		body       string
		wantCode   string
		wantFields []string
	}{
		{"empty", ``, ordergate.EINVALID, nil},
		{"truncated", `{"order": {"AmazonOrderId": "1"}, "items": [{"SellerSKU": "A"`, ordergate.EINVALID, []string{"items[0]"}},
		{"array", `[]`, ordergate.EUNPROCESSABLE, []string{"$"}},
		{"bare getOrder response", `{"payload": {"AmazonOrderId": "1"}}`, ordergate.EUNPROCESSABLE, []string{"order"}},
		{"no items", `{"order": {"AmazonOrderId": "1", "OrderTotal": ` + usd + `}}`, ordergate.EUNPROCESSABLE, []string{"items"}},
		{"null order", `{"order": null, "items": []}`, ordergate.EUNPROCESSABLE, []string{"order"}},
		{"order not an object", `{"order": "1", "items": []}`, ordergate.EUNPROCESSABLE, []string{"order"}},
		{"items not a list", `{"order": {"AmazonOrderId": "1"}, "items": 5}`, ordergate.EUNPROCESSABLE, []string{"items"}},
		{"getOrders list", `{"order": {"payload": {"Orders": []}}, "items": []}`, ordergate.EUNPROCESSABLE, []string{"order.payload.Orders"}},
		{"no AmazonOrderId", `{"order": {"OrderTotal": ` + usd + `}, "items": []}`, ordergate.EUNPROCESSABLE, []string{"order.AmazonOrderId"}},
		{"no currency anywhere", `{"order": {"AmazonOrderId": "1"}, "items": [{"SellerSKU": "A", "QuantityOrdered": 1}]}`,
			ordergate.EUNPROCESSABLE, []string{"order.OrderTotal"}},
		{"unknown currency", `{"order": {"AmazonOrderId": "1", "OrderTotal": {"CurrencyCode": "ABC", "Amount": "1"}}, "items": []}`,
			ordergate.EUNPROCESSABLE, []string{"order.OrderTotal.CurrencyCode"}},
		{"mixed currencies", `{"order": {"AmazonOrderId": "1", "OrderTotal": ` + usd + `}, "items": [{"QuantityOrdered": 1,
			"ItemPrice": {"CurrencyCode": "EUR", "Amount": "1.00"}}]}`,
			ordergate.EUNPROCESSABLE, []string{"items[0].ItemPrice.CurrencyCode"}},
		{"money without currency", `{"order": {"AmazonOrderId": "1", "OrderTotal": ` + usd + `}, "items": [{"QuantityOrdered": 1,
			"ItemTax": {"Amount": "1.00"}}]}`,
			ordergate.EUNPROCESSABLE, []string{"items[0].ItemTax.CurrencyCode"}},
		{"items of another order", `{"order": {"AmazonOrderId": "1", "OrderTotal": ` + usd + `}, "items": {"AmazonOrderId": "2", "OrderItems": []}}`,
			ordergate.EUNPROCESSABLE, []string{"items.AmazonOrderId"}},
		{"quantity of wrong kind", `{"order": {"AmazonOrderId": "1", "OrderTotal": ` + usd + `}, "items": [{"QuantityOrdered": [1]}]}`,
			ordergate.EUNPROCESSABLE, []string{"items[0].QuantityOrdered"}},
		{"SKU of wrong type", `{"order": {"AmazonOrderId": "1"}, "items": {"payload": {"OrderItems": [{}, {"SellerSKU": 5}]}}}`,
			ordergate.EUNPROCESSABLE, []string{"items.payload.OrderItems[1].SellerSKU"}},
		{"status of wrong type", `{"order": {"payload": {"AmazonOrderId": "1", "OrderStatus": 1}}, "items": []}`,
			ordergate.EUNPROCESSABLE, []string{"order.payload.OrderStatus"}},
		{"bad date", `{"order": {"AmazonOrderId": "1", "OrderTotal": ` + usd + `, "PurchaseDate": "1.569521782042E9"}, "items": []}`,
			ordergate.EUNPROCESSABLE, []string{"order.PurchaseDate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := amazon.Parse([]byte(tt.body))
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

func FuzzParse(f *testing.F) {
	for _, c := range cases {
		f.Add(c.body(f))
	}
	f.Add([]byte(`{"order": {"AmazonOrderId": "1"}, "items": [{"QuantityOrdered": 3, "ItemPrice": {"CurrencyCode": "KWD", "Amount": "1.000"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		orders, err := amazon.Parse(data)
		if !parsertest.FuzzError(t, orders, err) {
			return
		}
		if len(orders) != 1 {
			t.Fatalf("Parse() returned %d orders, want 1", len(orders))
		}
		parsertest.FuzzOrder(t, order.ChannelAmazon, 0, &orders[0])
	})
}

func BenchmarkParse(b *testing.B) {
	for _, c := range cases {
		if c.valid {
			parsertest.Bench(b, c.name, c.body(b), amazon.Parse)
		}
	}
}

// join makes an intake body from an order document and an items document.
func join(tb testing.TB, orderDoc, itemsDoc []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	buf.WriteString(`{"order": `)
	buf.Write(orderDoc)
	buf.WriteString(`, "items": `)
	buf.Write(itemsDoc)
	buf.WriteString("}\n")
	return buf.Bytes()
}

// extract returns the raw JSON found in a testdata file by following keys
// (strings) and indexes (ints).
func extract(tb testing.TB, name string, steps ...any) []byte {
	tb.Helper()
	raw := json.RawMessage(parsertest.MustRead(tb, name))
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				tb.Fatal(err)
			}
			raw = m[s]
		case int:
			var l []json.RawMessage
			if err := json.Unmarshal(raw, &l); err != nil {
				tb.Fatal(err)
			}
			raw = l[s]
		}
	}
	return raw
}
