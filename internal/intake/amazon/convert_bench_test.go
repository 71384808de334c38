package amazon

import (
	"os"
	"testing"

	"github.com/ordergate/ordergate/internal/intake/channeljson"
)

// BenchmarkConvert times the mapping to a canonical order alone, on
// documents already decoded, to separate it from encoding/json in
// BenchmarkParse.
func BenchmarkConvert(b *testing.B) {
	var od orderDoc
	var id itemsDoc
	for name, v := range map[string]any{"getOrder-sandbox-200.json": &od, "getOrderItems-sandbox-200.json": &id} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		if err := channeljson.Unmarshal(data, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var fe channeljson.FieldErrors
		convert(od.Payload, "order.payload", id.Payload.OrderItems, "items.payload.OrderItems", &fe)
		if err := fe.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
