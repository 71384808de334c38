package shopify

import (
	"os"
	"testing"

	"github.com/ordergate/ordergate/internal/intake/channeljson"
)

// BenchmarkConvert times the mapping to canonical orders alone, on bodies
// already decoded, to separate it from encoding/json in BenchmarkParse.
func BenchmarkConvert(b *testing.B) {
	data, err := os.ReadFile("testdata/ruby-order.json")
	if err != nil {
		b.Fatal(err)
	}
	var body body
	if err := channeljson.Unmarshal(data, &body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var fe channeljson.FieldErrors
		convert(body.Order, "order", &fe)
		if err := fe.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
