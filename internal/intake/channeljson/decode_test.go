package channeljson_test

import (
	"errors"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
)

func TestNumberUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want channeljson.Number
	}{
		{`12.50`, channeljson.Number{Text: "12.50", Set: true}},
		{`"12.50"`, channeljson.Number{Text: "12.50", Set: true}},
		{`"1\u0032"`, channeljson.Number{Text: "12", Set: true}},
		{`1e400`, channeljson.Number{Text: "1e400", Set: true}},
		{`null`, channeljson.Number{}},
		{`true`, channeljson.Number{Kind: "bool"}},
		{`{"a": 1}`, channeljson.Number{Kind: "object"}},
		{`[1]`, channeljson.Number{Kind: "array"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct{ N channeljson.Number }
			if err := channeljson.Unmarshal([]byte(`{"N": `+tt.in+`}`), &v); err != nil {
				t.Fatalf("Unmarshal(%s) error %v", tt.in, err)
			}
			if v.N != tt.want {
				t.Errorf("Unmarshal(%s) = %+v, want %+v", tt.in, v.N, tt.want)
			}
			if got, want := v.N.Present(), tt.in != "null"; got != want {
				t.Errorf("Unmarshal(%s).Present() = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestDecodeError(t *testing.T) {
	type target struct {
		Order struct {
			Lines []struct {
				SKU string `json:"sku"`
			} `json:"lines"`
		} `json:"order"`
	}
	tests := []struct {
		name   string
		data   string
		prefix string
		code   string
		fields []string
	}{
		{"wrong type in array", `{"order": {"lines": [{"sku": "a"}, {"sku": 7}]}}`, "", ordergate.EUNPROCESSABLE, []string{"order.lines[1].sku"}},
		{"wrong type with prefix", `{"order": {"lines": {}}}`, "body", ordergate.EUNPROCESSABLE, []string{"body.order.lines"}},
		{"later fields", `{"order": {"lines": [{"sku": 1}]}, "x": 1}`, "", ordergate.EUNPROCESSABLE, []string{"order.lines[0].sku"}},
		{"wrong top-level type", `[1]`, "", ordergate.EUNPROCESSABLE, []string{"$"}},
		{"malformed inside", `{"order": {"lines": [,]}}`, "", ordergate.EINVALID, []string{"order.lines[0]"}},
		{"malformed at top", `{,}`, "", ordergate.EINVALID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			var v target
			err := channeljson.Unmarshal(data, &v)
			if err == nil {
				t.Fatalf("Unmarshal(%s) = nil, want an error", tt.data)
			}
			var e *ordergate.Error
			if !errors.As(channeljson.DecodeError(data, tt.prefix, err), &e) {
				t.Fatalf("DecodeError() is not an *ordergate.Error")
			}
			if e.Code != tt.code {
				t.Errorf("DecodeError() code = %q, want %q (%s)", e.Code, tt.code, e.Message)
			}
			if got := keys(e.Fields); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("DecodeError() fields = %v, want %v (%s)", got, tt.fields, e.Message)
			}
		})
	}
}

func TestDecodeErrorOffset(t *testing.T) {
	data := []byte("{\n  \"a\": 1,\n  \"b\": }")
	err := channeljson.DecodeError(data, "", channeljson.Unmarshal(data, new(any)))
	var e *ordergate.Error
	if !errors.As(err, &e) {
		t.Fatalf("DecodeError() = %T, want *ordergate.Error", err)
	}
	got := []any{e.Code, e.Details["offset"], e.Details["line"], e.Details["column"]}
	want := []any{ordergate.EINVALID, int64(20), 3, 8}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeError() = %v, want %v (%s)", got, want, e.Message)
	}
}

func TestFieldErrors(t *testing.T) {
	num := func(s string) channeljson.Number { return channeljson.Number{Text: s, Set: true} }
	var fe channeljson.FieldErrors
	if err := fe.Err(); err != nil {
		t.Fatalf("Err() on no problems = %v, want nil", err)
	}
	if got, want := fe.Amount(num("12.5"), "USD", "ok"), int64(1250); got != want {
		t.Errorf("Amount(12.5 USD) = %d, want %d", got, want)
	}
	if got, want := fe.Stated(channeljson.Number{}, "USD", "ok", 99), int64(99); got != want {
		t.Errorf("Stated(absent) = %d, want %d", got, want)
	}
	if got, want := fe.Integer(num("3"), "ok"), int64(3); got != want {
		t.Errorf("Integer(3) = %d, want %d", got, want)
	}
	if got, want := fe.ID(num("0042"), "ok"), "0042"; got != want {
		t.Errorf("ID(0042) = %q, want %q", got, want)
	}
	if got, want := fe.Time("2024-01-02 03:04:05", time.DateTime, "ok"), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
	fe.Amount(num("1.005"), "USD", "sub_minor")
	fe.Amount(num("abc"), "USD", "not_decimal")
	fe.Amount(channeljson.Number{Kind: "bool"}, "USD", "wrong_kind")
	fe.Integer(num("1.5"), "not_whole")
	fe.Times(math.MaxInt64, 2, "times")
	fe.Plus(math.MaxInt64, 1, "plus")
	fe.Minus(math.MinInt64, 1, "minus")
	fe.Time("yesterday", "", "time")
	fe.Currency("", "currency_missing")
	fe.Currency("XYZ", "currency_unknown")
	fe.Add("times", "a second problem at the same path")

	var e *ordergate.Error
	if !errors.As(fe.Err(), &e) {
		t.Fatalf("Err() = %v, want *ordergate.Error", fe.Err())
	}
	if e.Code != ordergate.EUNPROCESSABLE {
		t.Errorf("Err() code = %q, want %q", e.Code, ordergate.EUNPROCESSABLE)
	}
	want := []string{"currency_missing", "currency_unknown", "minus", "not_decimal", "not_whole", "plus", "sub_minor", "time", "times", "wrong_kind"}
	if got := keys(e.Fields); !reflect.DeepEqual(got, want) {
		t.Errorf("Err() fields = %v, want %v", got, want)
	}
	if got, want := e.Fields["times"], "amount too large"; got != want {
		t.Errorf("Err() fields[times] = %q, want the first problem %q", got, want)
	}
}

func TestJoinPath(t *testing.T) {
	tests := []struct{ prefix, rel, want string }{
		{"", "id", "id"},
		{"order", "", "order"},
		{"order", "id", "order.id"},
		{"orders", "[2].id", "orders[2].id"},
	}
	for _, tt := range tests {
		if got := channeljson.JoinPath(tt.prefix, tt.rel); got != tt.want {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tt.prefix, tt.rel, got, tt.want)
		}
	}
}

func TestFirstByte(t *testing.T) {
	tests := []struct {
		in   string
		want byte
	}{
		{"", 0},
		{" \t\r\n", 0},
		{"\n [1]", '['},
		{`{}`, '{'},
	}
	for _, tt := range tests {
		if got := channeljson.FirstByte([]byte(tt.in)); got != tt.want {
			t.Errorf("FirstByte(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	long := "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
	tests := []struct{ in, want string }{
		{"A1", `"A1"`},
		{long, `"abcdefghijklmnopqrstuvwxyzabcdefghijklmn…"`},
	}
	for _, tt := range tests {
		if got := channeljson.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// keys returns the keys of m in order, or nil when m is empty.
func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
