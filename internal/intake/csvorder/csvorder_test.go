package csvorder_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/csvorder"
	"github.com/ordergate/ordergate/internal/order"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// result is one value returned by Next, as recorded in golden files.
type result struct {
	Order *order.Order     `json:"order,omitempty"`
	Error *ordergate.Error `json:"error,omitempty"`
}

// readAll calls Next until io.EOF or a sticky error, at most 10000 times.
func readAll(tb testing.TB, r io.Reader, opts csvorder.Options) []result {
	tb.Helper()
	cr := csvorder.NewReader(r, opts)
	var out []result
	var last error
	for range 10000 {
		o, err := cr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			var e *ordergate.Error
			if !errors.As(err, &e) {
				tb.Fatalf("Next() error %T %v is not *ordergate.Error", err, err)
			}
			if err == last {
				return out // sticky error: the reader has stopped
			}
			last = err
			out = append(out, result{Error: e})
			continue
		}
		out = append(out, result{Order: &o})
	}
	tb.Fatalf("Next() did not stop after 10000 calls")
	return nil
}

func TestGolden(t *testing.T) {
	tests := []struct {
		file string
		opts csvorder.Options
	}{
		{"jaffle_shop-raw_orders.csv", csvorder.Options{DefaultCurrency: "USD"}},
		{"jaffle_shop-raw_payments.csv", csvorder.Options{DefaultCurrency: "USD"}},
		{"orders.csv", csvorder.Options{DefaultCurrency: "USD"}},
		{"bad-rows.csv", csvorder.Options{DefaultCurrency: "USD"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := json.MarshalIndent(readAll(t, f, tt.opts), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", strings.TrimSuffix(tt.file, ".csv")+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("golden mismatch for %s; run go test -run TestGolden -update and review the diff\n got: %s", tt.file, got)
			}
		})
	}
}

// TestJaffleShop shows what the real jaffle_shop export does: it has no
// lines or amounts, so the header is rejected, naming the unknown and the
// missing columns, and the reader stops.
func TestJaffleShop(t *testing.T) {
	f, err := os.Open("testdata/jaffle_shop-raw_orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csvorder.NewReader(f, csvorder.Options{DefaultCurrency: "USD"})
	_, err = r.Next()
	var e *ordergate.Error
	if !errors.As(err, &e) {
		t.Fatalf("Next() error = %v, want *ordergate.Error", err)
	}
	want := map[string]string{
		"header.id":         "unknown column",
		"header.user_id":    "unknown column",
		"header.order_date": "unknown column",
		"header.order_id":   "required column missing",
		"header.sku":        "required column missing",
		"header.quantity":   "required column missing",
		"header.unit_price": "required column missing",
	}
	if got := e.Fields; !mapsEqual(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	if got, want := e.Code, ordergate.EINVALID; got != want {
		t.Errorf("Code = %q, want %q", got, want)
	}
	if _, again := r.Next(); again != err {
		t.Errorf("second Next() = %v, want the same header error", again)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNext(t *testing.T) {
	const header = "order_id,sku,quantity,unit_price,tax,shipping,currency,total\n"
	tests := []struct {
		name string
		in   string
		opts csvorder.Options
		// want has one entry per Next call: an order's "id total" or an
		// error's code and field keys.
		want []string
	}{
		{"two orders", header + "A,s1,2,1.50,,,,\nA,s2,1,2,0.10,5,,10.10\nB,s3,1,1,,,EUR,\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"A USD 1010", "B EUR 100"}},
		{"bad quantity then good order", header + "A,s1,x,1,,,,\nA,s2,1,1,,,,\nB,s3,1,1,,,,\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [row 2.quantity]", "B USD 100"}},
		{"total mismatch", header + "A,s1,1,1,,,,2.00\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"unprocessable [row 2.total]"}},
		{"differing order-level value", header + "A,s1,1,1,,,USD,\nA,s2,1,1,,,EUR,\n", csvorder.Options{},
			[]string{"unprocessable [row 3.currency]"}},
		{"no currency", header + "A,s1,1,1,,,,\n", csvorder.Options{}, []string{"invalid_request [row 2.currency]"}},
		{"sub-minor price", header + "A,s1,1,1.001,,,,\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [row 2.unit_price]"}},
		{"JPY", header + "A,s1,3,100,,,JPY,300\n", csvorder.Options{}, []string{"A JPY 300"}},
		{"bare quote fails both neighbours", header + "A,s1,1,1,,,,\nA,\"s\"2\",1,1,,,,\nB,s3,1,1,,,,\nC,s4,1,1,,,,\n",
			csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [row 3]", "invalid_request [row 3]", "C USD 100"}},
		{"bare quote inside one order", header + "A,s1,1,1,,,,\nA,\"s\"2\",1,1,,,,\nA,s3,1,1,,,,\nB,s4,1,1,,,,\n",
			csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [row 3]", "B USD 100"}},
		{"field count", header + "A,s1,1,1\nB,s2,1,1,,,,\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [row 2]", "B USD 100"}},
		{"missing order_id", header + "A,s1,1,1,,,,\n,s2,1,1,,,,\nB,s3,1,1,,,,\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [row 3.order_id]", "invalid_request [row 3.order_id]"}},
		{"too many lines", header + "A,s1,1,1,,,,\nA,s2,1,1,,,,\nA,s3,1,1,,,,\nB,s4,1,1,,,,\n",
			csvorder.Options{DefaultCurrency: "USD", MaxLinesPerOrder: 2},
			[]string{"unprocessable [row 4]", "B USD 100"}},
		{"unknown column", "order_id,sku,quantity,unit_price,colour\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"invalid_request [header.colour]"}},
		{"empty", "", csvorder.Options{}, []string{"invalid_request []"}},
		{"header only", header, csvorder.Options{DefaultCurrency: "USD"}, nil},
		{"bom and upper-case names", "\ufeffORDER_ID,SKU,Quantity,Unit_Price\r\nA,s1,1,1\r\n", csvorder.Options{DefaultCurrency: "USD"},
			[]string{"A USD 100"}},
		{"line too long", header + "A,s1,1," + strings.Repeat("9", 100) + ",,,,\n", csvorder.Options{DefaultCurrency: "USD", MaxRowBytes: 64},
			[]string{"invalid_request []"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range readAll(t, strings.NewReader(tt.in), tt.opts) {
				if r.Error != nil {
					keys := make([]string, 0, len(r.Error.Fields))
					for k := range r.Error.Fields {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					got = append(got, fmt.Sprintf("%s %v", r.Error.Code, keys))
					continue
				}
				got = append(got, fmt.Sprintf("%s %s %d", r.Order.ExternalID, r.Order.Currency, r.Order.Total))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Next() results = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.csv")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("order_id,sku,quantity,unit_price,discount,tax,shipping,total\nA,s,1,1,0.5,0.1,1,1.60\nA,\"x\"y\",1,1\n,s,1,1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range readAll(t, bytes.NewReader(b), csvorder.Options{DefaultCurrency: "USD", MaxLinesPerOrder: 50}) {
			if r.Error != nil {
				if r.Error.Message == "" || r.Error.Code != ordergate.EINVALID && r.Error.Code != ordergate.EUNPROCESSABLE {
					t.Fatalf("bad error %+v", r.Error)
				}
				continue
			}
			o := r.Order
			if o.ExternalID == "" || len(o.Lines) == 0 {
				t.Fatalf("order without id or lines: %+v", o)
			}
			var sub, disc, tax int64
			for _, l := range o.Lines {
				if l.Quantity <= 0 || l.SKU == "" || l.Total != l.Quantity*l.UnitPrice-l.Discount+l.Tax {
					t.Fatalf("bad line %+v", l)
				}
				sub += l.Quantity * l.UnitPrice
				disc += l.Discount
				tax += l.Tax
			}
			if sub != o.Subtotal || o.Total != sub-disc+tax+o.ShippingTotal {
				t.Fatalf("totals do not add up: %+v", o)
			}
		}
	})
}

// generate writes a CSV of rows order lines, one to three lines per order,
// to w.
func generate(w io.Writer, rows int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("order_id,placed_at,currency,customer_name,customer_email,sku,title,quantity,unit_price,tax,shipping\n")
	for i, n := 0, 0; n < rows; i++ {
		lines := i%3 + 1
		for l := 0; l < lines && n < rows; l++ {
			fmt.Fprintf(bw, "ORD-%07d,2026-03-01T10:00:00Z,USD,Customer %d,c%d@example.com,SKU-%d,\"Widget, size %d\",%d,%d.%02d,0.10,4.99\n",
				i, i, i, l, l, l+1, 10+l, i%100)
			n++
		}
	}
	return bw.Flush()
}

// streamRows reads a generated CSV of rows lines through an io.Pipe and
// returns the number of orders, how long it took and the peak heap seen.
func streamRows(tb testing.TB, rows int) (orders int, elapsed time.Duration, peakHeap uint64) {
	tb.Helper()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(generate(pw, rows)) }()

	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	r := csvorder.NewReader(pr, csvorder.Options{})
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("Next() after %d orders: %v", orders, err)
		}
		orders++
	}
	elapsed = time.Since(start)
	close(done)
	wg.Wait()
	return orders, elapsed, peak.Load()
}

// TestStreamMillionRows reads 1,000,000 generated rows (about 150 MB)
// through a pipe and checks that the heap stays small.
func TestStreamMillionRows(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1,000,000 rows")
	}
	orders, elapsed, peak := streamRows(t, 1_000_000)
	// Orders take 1, 2, 3 lines in turn: 166,666 rounds of six rows make
	// 499,998 orders, and the last four rows make three more.
	if got, want := orders, 500_001; got != want {
		t.Errorf("orders = %d, want %d", got, want)
	}
	t.Logf("%d orders in %v (%.0f orders/s), peak heap %.1f MiB", orders, elapsed,
		float64(orders)/elapsed.Seconds(), float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Errorf("peak heap = %d bytes, want under 64 MiB", peak)
	}
}

// BenchmarkStreamMillionRows reports orders/s and the peak heap and
// process RSS while streaming 1,000,000 rows through a pipe.
func BenchmarkStreamMillionRows(b *testing.B) {
	var orders int
	var elapsed time.Duration
	var peak uint64
	for b.Loop() {
		n, d, p := streamRows(b, 1_000_000)
		orders += n
		elapsed += d
		peak = max(peak, p)
	}
	b.ReportMetric(float64(orders)/elapsed.Seconds(), "orders/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	if rss, ok := peakRSS(); ok {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

// peakRSS reads the process's peak resident set size (VmHWM) on Linux.
func peakRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10, true
			}
		}
	}
	return 0, false
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := generate(&buf, 30_000); err != nil {
		b.Fatal(err)
	}
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	orders := 0
	for b.Loop() {
		r := csvorder.NewReader(bytes.NewReader(body), csvorder.Options{})
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			orders++
		}
	}
	b.ReportMetric(float64(orders)/b.Elapsed().Seconds(), "orders/s")
}
