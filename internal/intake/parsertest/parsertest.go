// Package parsertest holds what the channel parsers' tests share: reading
// testdata, golden files (rewritten with go test -update), the properties
// a fuzzed parse must keep, and the parse benchmark.
package parsertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// Parse is the signature of a channel parser.
type Parse func(data []byte) ([]order.Order, error)

// Checked is one parsed order with what order.Check finds in it; the
// golden files hold them.
type Checked struct {
	Order      order.Order       `json:"order"`
	Violations []order.Violation `json:"violations"`
}

// Check pairs each of orders with what order.Check finds in it.
func Check(orders []order.Order) []Checked {
	var got []Checked
	for i := range orders {
		got = append(got, Checked{orders[i], order.Check(&orders[i])})
	}
	return got
}

// MustRead returns the contents of testdata/name.
func MustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// Golden compares got, as indented JSON, with testdata/golden (rewriting
// it first under -update); what names the parsed input in the message.
func Golden(t *testing.T, what, golden string, got any) {
	t.Helper()
	gotJSON, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	gotJSON = append(gotJSON, '\n')
	golden = filepath.Join("testdata", golden)
	if *update {
		if err := os.WriteFile(golden, gotJSON, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(gotJSON, want) {
		t.Errorf("Parse(%s) differs from %s; run go test -update and review the diff\ngot:\n%s", what, golden, gotJSON)
	}
}

// FuzzError fails t unless err, when not nil, is an *ordergate.Error with
// code EINVALID or EUNPROCESSABLE and came without orders. It reports
// whether err was nil.
func FuzzError(t *testing.T, orders []order.Order, err error) bool {
	t.Helper()
	if err == nil {
		return true
	}
	var e *ordergate.Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse() error %T %v, want *ordergate.Error", err, err)
	}
	if e.Code != ordergate.EINVALID && e.Code != ordergate.EUNPROCESSABLE {
		t.Fatalf("Parse() code %q", e.Code)
	}
	if orders != nil {
		t.Fatalf("Parse() returned orders with an error")
	}
	return false
}

// FuzzOrder fails t unless the i-th parsed order o is from channel, has an
// external id and no status or source, a known currency and UTC times;
// then it runs order.Check on o, which must not panic.
func FuzzOrder(t *testing.T, channel string, i int, o *order.Order) {
	t.Helper()
	if o.Channel != channel || o.ExternalID == "" || o.Status != "" || o.Source != "" {
		t.Fatalf("Parse() order %d: channel %q, external id %q, status %q, source %q", i, o.Channel, o.ExternalID, o.Status, o.Source)
	}
	if _, ok := order.MinorDigits(o.Currency); !ok {
		t.Fatalf("Parse() order %d: currency %q", i, o.Currency)
	}
	if o.PlacedAt.Location().String() != "UTC" || o.UpdatedAt.Location().String() != "UTC" {
		t.Fatalf("Parse() order %d: times not in UTC", i)
	}
	order.Check(o)
}

// Bench runs a sub-benchmark name that parses data, reporting bytes,
// allocations and orders/s.
func Bench(b *testing.B, name string, data []byte, parse Parse) {
	orders, err := parse(data)
	if err != nil {
		b.Fatal(err)
	}
	perBody := len(orders)
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := parse(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*perBody)/b.Elapsed().Seconds(), "orders/s")
	})
}

// SameSet reports whether a and b hold the same strings, in any order.
func SameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int)
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
