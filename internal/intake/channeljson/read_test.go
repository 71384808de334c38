package channeljson_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/channeljson"
)

// read runs Read on data with fn, failing t on malformed JSON, and returns
// the problems recorded.
func read(t *testing.T, data string, fn func(o channeljson.Object)) *ordergate.Error {
	t.Helper()
	var fe channeljson.FieldErrors
	if err := channeljson.Read([]byte(data), &fe, func(top channeljson.Value) { fn(top.Object()) }); err != nil {
		t.Fatalf("Read(%s) error = %v", data, err)
	}
	var e *ordergate.Error
	errors.As(fe.Err(), &e)
	return e
}

// wantProblems fails t unless e is EUNPROCESSABLE with the problems want
// by path.
func wantProblems(t *testing.T, e *ordergate.Error, want map[string]string) {
	t.Helper()
	if e == nil || e.Code != ordergate.EUNPROCESSABLE {
		t.Fatalf("Err() = %v, want EUNPROCESSABLE", e)
	}
	if !reflect.DeepEqual(e.Fields, want) {
		t.Errorf("Err() fields = %q, want %q", e.Fields, want)
	}
}

func TestObjectNumber(t *testing.T) {
	tests := []struct {
		in   string
		want channeljson.Number
	}{
		{`12.50`, channeljson.Number{Text: "12.50", Set: true}},
		{`"12.50"`, channeljson.Number{Text: "12.50", Set: true}},
		{`"1\u0032"`, channeljson.Number{Text: "12", Set: true}},
		{`1e400`, channeljson.Number{Text: "1e400", Set: true}},
		{`-0`, channeljson.Number{Text: "-0", Set: true}},
		{`null`, channeljson.Number{}},
		{`true`, channeljson.Number{Kind: "bool"}},
		{`{"a": 1}`, channeljson.Number{Kind: "object"}},
		{`[1]`, channeljson.Number{Kind: "array"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			read(t, `{"n": `+tt.in+`}`, func(o channeljson.Object) {
				if got := o.Number("n"); got != tt.want {
					t.Errorf("Number(%s) = %+v, want %+v", tt.in, got, tt.want)
				}
				if got, want := o.Has("n"), tt.in != "null"; got != want {
					t.Errorf("Has(%s) = %v, want %v", tt.in, got, want)
				}
			})
		})
	}
}

func TestObjectString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`"caf\u00e9 \"x\" \/ \\"`, `café "x" / \`},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud800"`, "\ufffd"},               // a lone surrogate, as encoding/json decodes it
		{"\"\xff\xfeok\"", "\ufffd\ufffdok"}, // invalid UTF-8, each byte replaced
		{`null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			read(t, `{"s": `+tt.in+`}`, func(o channeljson.Object) {
				if got := o.String("s"); got != tt.want {
					t.Errorf("String(%s) = %q, want %q", tt.in, got, tt.want)
				}
			})
		})
	}
}

func TestObjectKeys(t *testing.T) {
	read(t, `{"id": 1, "i\u0064": 2, "ID": 3, "name": "a", "name": "b", "x": {"y": [{"z": 1}, null, {"z": 2}]}}`, func(o channeljson.Object) {
		if got, want := o.ID("id"), "2"; got != want {
			t.Errorf(`ID("id") = %q, want the last of the repeated keys, %q`, got, want)
		}
		if got, want := o.String("name"), "b"; got != want {
			t.Errorf(`String("name") = %q, want %q`, got, want)
		}
		if got, want := o.ID("Id"), ""; got != want {
			t.Errorf(`ID("Id") = %q, want %q: keys match exactly`, got, want)
		}
		zs := o.Object("x").Objects("y")
		var got []string
		for _, z := range zs {
			got = append(got, z.ID("z"))
		}
		if want := []string{"1", "", "2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("x.y[].z = %q, want %q", got, want)
		}
		if zs[1].Present() || !zs[2].Present() {
			t.Errorf("Present() of a null element and an object = %v, %v, want false, true", zs[1].Present(), zs[2].Present())
		}
		if got, want := zs[2].Path("z"), "x.y[2].z"; got != want {
			t.Errorf("Path() = %q, want %q", got, want)
		}
	})
}

func TestObjectEmptyAndMissing(t *testing.T) {
	read(t, `{"empty": [], "none": null}`, func(o channeljson.Object) {
		if got := o.Objects("empty"); got == nil || len(got) != 0 {
			t.Errorf(`Objects("empty") = %#v, want an empty, non-nil slice`, got)
		}
		for _, key := range []string{"none", "missing"} {
			if got := o.Objects(key); got != nil {
				t.Errorf("Objects(%q) = %#v, want nil", key, got)
			}
			if o.Object(key).Present() || o.Has(key) {
				t.Errorf("Object(%q).Present() or Has(%q) = true, want false", key, key)
			}
			if got := o.Object(key).String("a"); got != "" {
				t.Errorf("an absent Object reads %q, want nothing", got)
			}
		}
	})
}

func TestObjectWrongKinds(t *testing.T) {
	e := read(t, `{"order": {"name": 1001, "paid": "yes", "lines": {}, "items": [{"a": 1}, 7], "customer": "bob", "id": true}}`, func(o channeljson.Object) {
		s := o.Object("order")
		s.String("name")
		s.Bool("paid")
		s.Objects("lines")
		s.Objects("items")
		s.Object("customer")
		s.ID("id")
		s.Amount("total", "XYZ")
	})
	// The wrong kinds alone, without order.id's bad value.
	wantProblems(t, e, map[string]string{
		"order.name":     "must be a string, not number",
		"order.paid":     "must be true or false, not string",
		"order.lines":    "must be an array, not object",
		"order.items[1]": "must be an object, not number",
		"order.customer": "must be an object, not string",
	})
	if got, want := e.Message, "order.name: must be a string, not number (and 4 more)"; got != want {
		t.Errorf("Err() message = %q, want %q", got, want)
	}
}

func TestObjectConverters(t *testing.T) {
	e := read(t, `{"price": "12.5", "qty": 3, "id": "0042", "at": "2024-01-02 03:04:05", "rfc": "2024-01-02T03:04:05+02:00",
		"sub_minor": "1.005", "not_decimal": "abc", "wrong_kind": true, "not_whole": 1.5, "time": "yesterday", "big": 9223372036854775807}`,
		func(o channeljson.Object) {
			if got, want := o.Amount("price", "USD"), int64(1250); got != want {
				t.Errorf("Amount(12.5 USD) = %d, want %d", got, want)
			}
			if got, want := o.Stated("absent", "USD", 99), int64(99); got != want {
				t.Errorf("Stated(absent) = %d, want %d", got, want)
			}
			if got, want := o.Integer("qty"), int64(3); got != want {
				t.Errorf("Integer(3) = %d, want %d", got, want)
			}
			if got, want := o.RequiredID("id"), "0042"; got != want {
				t.Errorf("RequiredID(0042) = %q, want %q", got, want)
			}
			if got, want := o.Time("at", time.DateTime), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("Time() = %v, want %v", got, want)
			}
			if got, want := o.Time("rfc", ""), time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("Time() = %v, want %v in UTC", got, want)
			}
			o.Amount("sub_minor", "USD")
			o.Amount("not_decimal", "USD")
			o.Amount("wrong_kind", "USD")
			o.Integer("not_whole")
			o.Time("time", "")
			o.RequiredID("missing_id")
			big := o.Integer("big")
			o.Times(big, 2, "times")
			o.Plus(big, 1, "plus")
			o.Minus(-big-1, 1, "minus")
			o.Plus(big, 1, "plus") // a second problem at the same path
		})
	wantProblems(t, e, map[string]string{
		"sub_minor":   `amount "1.005" has more decimals than USD allows (2)`,
		"not_decimal": `not a decimal amount: "abc"`,
		"wrong_kind":  "must be a number or a string, not bool",
		"not_whole":   `not a whole number: "1.5"`,
		"time":        `not a date-time: "yesterday"`,
		"missing_id":  "required",
		"times":       "amount too large",
		"plus":        "amount too large",
		"minus":       "amount too large",
	})
}

func TestObjectCurrency(t *testing.T) {
	e := read(t, `{"ok": "JPY", "unknown": "XYZ", "kind": 5}`, func(o channeljson.Object) {
		if code, ok := o.Currency("ok"); code != "JPY" || !ok {
			t.Errorf(`Currency("ok") = %q, %v, want "JPY", true`, code, ok)
		}
		for _, key := range []string{"unknown", "missing", "kind"} {
			if _, ok := o.Currency(key); ok {
				t.Errorf("Currency(%q) ok, want a problem", key)
			}
		}
	})
	wantProblems(t, e, map[string]string{"kind": "must be a string, not number"}) // the wrong kind alone
	e = read(t, `{"unknown": "XYZ"}`, func(o channeljson.Object) {
		o.Currency("unknown")
		o.Currency("missing")
		o.Add("missing", "a second problem at the same path")
	})
	wantProblems(t, e, map[string]string{"unknown": `unknown currency "XYZ"`, "missing": "required"})
}

func TestFieldErrorsNone(t *testing.T) {
	var fe channeljson.FieldErrors
	if err := fe.Err(); err != nil {
		t.Errorf("Err() on no problems = %v, want nil", err)
	}
}

func TestReadMalformed(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		fields []string
	}{
		{"malformed inside", `{"order": {"lines": [,]}}`, []string{"order.lines[0]"}},
		{"malformed at top", `{,}`, nil},
		{"truncated", `{"order": {"lines": [{"sku": "A"`, []string{"order.lines[0]"}},
		{"bad token", `{"order": {"id": 1, "currency": USD}}`, []string{"order.currency"}},
		{"leading zero", `{"n": 01}`, nil},
		{"NaN", `{"n": NaN}`, []string{"n"}},
		{"control character in a string", "{\"s\": \"a\tb\"}", []string{"s"}},
		{"control character in a key", "{\"a\nb\": 1}", nil},
		{"bad escape", `{"s": "\x"}`, []string{"s"}},
		{"short unicode escape", `{"s": "\u12"}`, []string{"s"}},
		{"trailing comma", `{"a": [1,]}`, []string{"a[1]"}},
		{"second value", `{} {}`, nil},
		{"empty", ``, nil},
		{"white space only", " \n", nil},
		{"too deep", strings.Repeat("[", 10001) + strings.Repeat("]", 10001), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			err := channeljson.Read(data, nil, func(channeljson.Value) { t.Fatalf("Read() called read on malformed JSON") })
			var e *ordergate.Error
			if !errors.As(err, &e) {
				t.Fatalf("Read() error = %v, want *ordergate.Error", err)
			}
			if e.Code != ordergate.EINVALID {
				t.Errorf("Read() code = %q, want %q (%s)", e.Code, ordergate.EINVALID, e.Message)
			}
			var got []string
			for k := range e.Fields {
				got = append(got, k)
			}
			if !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("Read() fields = %v, want %v (%s)", got, tt.fields, e.Message)
			}
			if !reflect.DeepEqual(channeljson.Valid(data), err) {
				t.Errorf("Valid() = %v, want Read's error %v", channeljson.Valid(data), err)
			}
		})
	}
}

func TestReadDeepest(t *testing.T) {
	data := []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000))
	if err := channeljson.Valid(data); err != nil {
		t.Errorf("Valid(10000 levels) = %v, want nil, as encoding/json accepts it", err)
	}
}

func TestReadMalformedOffset(t *testing.T) {
	data := []byte("{\n  \"a\": 1,\n  \"b\": }")
	err := channeljson.Valid(data)
	var e *ordergate.Error
	if !errors.As(err, &e) {
		t.Fatalf("Valid() = %T, want *ordergate.Error", err)
	}
	got := []any{e.Code, e.Details["offset"], e.Details["line"], e.Details["column"]}
	want := []any{ordergate.EINVALID, int64(20), 3, 8}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Valid() = %v, want %v (%s)", got, want, e.Message)
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
