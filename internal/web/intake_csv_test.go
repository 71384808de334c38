package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
)

// csvSource registers a CSV source in e and returns its API key.
func csvSource(tb testing.TB, e *orderEnv) string {
	tb.Helper()
	_, key, err := e.Intake.AddSource(context.Background(), ordergate.SystemActor, "csv", "uploads", "")
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// csvSummary is the answer to a CSV upload.
type csvSummary struct {
	Error         string `json:"error"`
	OrdersCreated int    `json:"orders_created"`
	OrdersUpdated int    `json:"orders_updated"`
	Duplicates    int    `json:"duplicates"`
	RejectedRows  int    `json:"rejected_rows"`
	ErrorCount    int    `json:"error_count"`
	Errors        []struct {
		Row        int               `json:"row"`
		ExternalID string            `json:"external_id"`
		Error      string            `json:"error"`
		Fields     map[string]string `json:"fields"`
	} `json:"errors"`
	RawPayloadID string `json:"raw_payload_id"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
}

// postCSV uploads body to the CSV intake of e with key and decodes the answer.
func postCSV(tb testing.TB, e *orderEnv, key string, body io.Reader) (int, csvSummary) {
	tb.Helper()
	req, err := http.NewRequest("POST", e.URL+"/api/v1/intake/csv", body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var s csvSummary
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &s); err != nil {
		tb.Fatalf("answer %d %s: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, s
}

func TestIntakeCSV(t *testing.T) {
	e := startOrderEnv(t)
	key := csvSource(t, e)
	type errWant struct {
		row   int
		ext   string
		field string
	}
	tests := []struct {
		file                        string
		key                         string
		status                      int
		created, duplicates, reject int
		errors                      []errWant
		stored                      bool
	}{
		{file: "orders.csv", status: http.StatusCreated, created: 2, stored: true},
		{file: "orders.csv", status: http.StatusOK, duplicates: 2, stored: true},
		{file: "bad-rows.csv", status: http.StatusCreated, created: 1, reject: 5, stored: true, errors: []errWant{
			{3, "2001", "row 3.quantity"}, {4, "2002", "row 4.unit_price"}, {5, "2003", "row 5.currency"}, {6, "2004", "row 6.total"}}},
		{file: "jaffle_shop-raw_orders.csv", status: http.StatusUnprocessableEntity},
		{file: "orders.csv", key: "ogk_src_nope_x", status: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			k := key
			if tc.key != "" {
				k = tc.key
			}
			body := fixture(t, "csvorder/testdata/"+tc.file)
			before := countPayloads(t, e)
			status, got := postCSV(t, e, k, bytes.NewReader(body))
			if status != tc.status || got.OrdersCreated != tc.created || got.Duplicates != tc.duplicates || got.RejectedRows != tc.reject {
				t.Fatalf("POST %s = %d %+v, want %d with %d created, %d duplicates, %d rejected rows",
					tc.file, status, got, tc.status, tc.created, tc.duplicates, tc.reject)
			}
			if got.ErrorCount != len(tc.errors) || len(got.Errors) != len(tc.errors) {
				t.Fatalf("errors = %d %+v, want %d", got.ErrorCount, got.Errors, len(tc.errors))
			}
			for i, w := range tc.errors {
				g := got.Errors[i]
				if g.Row != w.row || g.ExternalID != w.ext || g.Fields[w.field] == "" {
					t.Errorf("errors[%d] = %+v, want row %d, order %s, field %q", i, g, w.row, w.ext, w.field)
				}
			}
			if stored := countPayloads(t, e) > before; stored != tc.stored {
				t.Errorf("raw payload stored = %v, want %v", stored, tc.stored)
			}
			if !tc.stored {
				return
			}
			var back bytes.Buffer
			info, err := e.DB.WriteRawPayload(context.Background(), got.RawPayloadID, &back)
			if err != nil || !bytes.Equal(back.Bytes(), body) || info.SHA256 != got.SHA256 || got.Size != int64(len(body)) {
				t.Errorf("raw payload %s = %d bytes, %+v, %v; want the file's %d bytes", got.RawPayloadID, back.Len(), info, err, len(body))
			}
		})
	}
}

func countPayloads(tb testing.TB, e *orderEnv) int {
	tb.Helper()
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM raw_payloads`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// csvRows writes a CSV file of n rows after the header, two rows (lines)
// per order, to w; the rows in bad have the quantity "x". It returns the
// number of orders.
func csvRows(w io.Writer, n int, bad map[int]bool) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("order_id,placed_at,currency,customer_name,customer_email,sku,title,quantity,unit_price,tax\n")
	var line []byte
	for i := range n {
		row := i + 2 // the header is row 1
		id := i/2 + 1
		qty := strconv.Itoa(1 + i%3)
		if bad[row] {
			qty = "x"
		}
		line = line[:0]
		line = fmt.Appendf(line, "%d,2026-11-27T09:00:00Z,EUR,Customer %d,c%d@example.com,SKU-%d,Widget %d,%s,%d.%02d,0.19\n",
			id, id, id, i%97, i%97, qty, 1+i%50, i%100)
		if _, err := bw.Write(line); err != nil {
			return 0, err
		}
	}
	return (n + 1) / 2, bw.Flush()
}

// peakMemory samples the Go heap and the goroutines until stop is closed
// and reports the most heap held from the OS (HeapSys less what was
// returned to it), the most goroutines, and the process's VmHWM.
type peakMemory struct {
	heap       atomic.Uint64
	goroutines atomic.Int64
	stop       chan struct{}
	done       chan struct{}
}

func watchMemory() *peakMemory {
	p := &peakMemory{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			p.heap.Store(max(p.heap.Load(), ms.HeapSys-ms.HeapReleased))
			p.goroutines.Store(max(p.goroutines.Load(), int64(runtime.NumGoroutine())))
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakMemory) end() (heap uint64, goroutines int64, vmHWM string) {
	close(p.stop)
	<-p.done
	status, _ := os.ReadFile("/proc/self/status")
	for l := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			vmHWM = strings.TrimSpace(v)
		}
	}
	return p.heap.Load(), p.goroutines.Load(), vmHWM
}

// importStream streams rows generated rows through an io.Pipe (nothing
// on disk) into the CSV intake on SQLite and checks what was stored.
func importStream(tb testing.TB, rows int) (orders int, elapsed time.Duration) {
	clock := &orderClock{now: time.Now().UTC()}
	e := newOrderEnv(tb, openOrderDB(tb, clock), clock)
	key := csvSource(tb, e)
	bad := map[int]bool{3: true, rows / 2: true, rows - 7: true}
	pr, pw := io.Pipe()
	var n int
	go func() {
		var err error
		n, err = csvRows(pw, rows, bad)
		pw.CloseWithError(err)
	}()
	start := time.Now()
	status, got := postCSV(tb, e, key, pr)
	elapsed = time.Since(start)
	// Each bad row refuses its order, two rows.
	wantOrders := n - len(bad)
	if status != http.StatusCreated || got.OrdersCreated != wantOrders || got.RejectedRows != 2*len(bad) || got.ErrorCount != len(bad) {
		tb.Fatalf("import of %d rows = %d, %d created, %d rejected rows, %d errors; want 201, %d, %d, %d",
			rows, status, got.OrdersCreated, got.RejectedRows, got.ErrorCount, wantOrders, 2*len(bad), len(bad))
	}
	for _, e := range got.Errors {
		if !bad[e.Row] || e.Fields[fmt.Sprintf("row %d.quantity", e.Row)] == "" {
			tb.Errorf("error %+v names no bad row", e)
		}
	}
	var stored int
	if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM orders WHERE raw_payload_id = ?`, got.RawPayloadID).Scan(&stored); err != nil {
		tb.Fatal(err)
	}
	if stored != wantOrders || got.SHA256 == "" {
		tb.Errorf("orders stored = %d, sha256 %q; want %d and the file's hash", stored, got.SHA256, wantOrders)
	}
	return stored, elapsed
}

// TestIntakeCSVStream streams 30,000 rows (about 3 MB: several raw-payload
// chunks and transactions of orders) into the CSV intake; the
// 1,000,000-row import is BenchmarkIntakeCSVStream. Skipped under -short.
func TestIntakeCSVStream(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 30,000 rows; skipped under -short")
	}
	const rows = 30_000
	mem := watchMemory()
	orders, elapsed := importStream(t, rows)
	heap, goroutines, hwm := mem.end()
	t.Logf("%d rows, %d orders in %v: %.0f rows/s; peak Go heap %.1f MiB, %d goroutines, VmHWM %s",
		rows, orders, elapsed.Round(time.Millisecond), rows/elapsed.Seconds(), float64(heap)/(1<<20), goroutines, hwm)
}

// BenchmarkIntakeCSVStream imports 1,000,000 generated rows per
// iteration over HTTP on SQLite and reports rows/s, the peak Go heap and
// goroutines, and VmHWM (of the test process, which also generates and
// sends the file; SQLite's page caches are outside the Go heap).
func BenchmarkIntakeCSVStream(b *testing.B) {
	const rows = 1_000_000
	mem := watchMemory()
	var total time.Duration
	for b.Loop() {
		_, elapsed := importStream(b, rows)
		total += elapsed
	}
	heap, goroutines, hwm := mem.end()
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(goroutines), "peak-goroutines")
	b.Logf("VmHWM %s", hwm)
}
