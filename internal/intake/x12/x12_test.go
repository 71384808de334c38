package x12_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/x12"
	"github.com/ordergate/ordergate/internal/order"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var ackOptions = x12.AckOptions{ControlNumber: 1, GroupControlNumber: 1,
	Now: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)}

// golden is what a fixture's golden file records.
type golden struct {
	Separators    string          `json:"separators"`
	Sender        string          `json:"sender"`
	Receiver      string          `json:"receiver"`
	ControlNumber string          `json:"control_number"`
	Usage         string          `json:"usage"`
	Warnings      []order.Warning `json:"warnings"`
	Sets          []goldenSet     `json:"sets"`
	Ack           []string        `json:"ack_997"`
}

type goldenSet struct {
	Group         string           `json:"group"`
	Ordinal       int              `json:"ordinal"`
	ID            string           `json:"id"`
	ControlNumber string           `json:"control_number"`
	Accepted      bool             `json:"accepted"`
	Order         *order.Order     `json:"order,omitempty"`
	Error         *ordergate.Error `json:"error,omitempty"`
	Violations    []x12.Violation  `json:"violations,omitempty"`
}

func goldenOf(t *testing.T, ic *x12.Interchange) []byte {
	t.Helper()
	g := golden{
		Separators:    string([]byte{ic.Separators.Element, ic.Separators.Component, ic.Separators.Segment}),
		Sender:        ic.SenderQualifier + "/" + ic.SenderID,
		Receiver:      ic.ReceiverQualifier + "/" + ic.ReceiverID,
		ControlNumber: ic.ControlNumber,
		Usage:         ic.Usage,
		Warnings:      ic.Warnings,
	}
	for _, grp := range ic.Groups {
		for _, s := range grp.Sets {
			gs := goldenSet{Group: grp.ControlNumber, Ordinal: s.Ordinal, ID: s.ID, ControlNumber: s.ControlNumber,
				Accepted: s.Accepted(), Violations: s.Violations}
			if s.Accepted() {
				o := s.Order
				gs.Order = &o
			} else {
				var e *ordergate.Error
				if !errors.As(s.Err, &e) {
					t.Fatalf("set %d: Err = %T, want *ordergate.Error", s.Ordinal, s.Err)
				}
				gs.Error = e
			}
			g.Sets = append(g.Sets, gs)
		}
	}
	ack := x12.Ack(ic, ackOptions)
	g.Ack = strings.SplitAfter(strings.TrimSuffix(string(ack), "\n"), "\n")
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file     string
		orders   int
		rejected int
		warnings []string // warning codes on the first order
	}{
		{"node-x12-850.edi", 1, 0, nil},
		// Unit price 225 is present in PO104; the line has no PO101 line
		// number, which is optional.
		{"node-x12-850_3-petco.edi", 1, 0, []string{x12.WarnUnitOfMeasure}},
		{"edinet-x12.850.edi", 1, 0, []string{x12.WarnTestInterchange, x12.WarnControlNumberMismatch}},
		{"edinet-x12.850a.edi", 1, 0, []string{x12.WarnSKUAmbiguous, x12.WarnUnitOfMeasure, x12.WarnTestInterchange, x12.WarnControlNumberMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			ic, err := x12.Parse(body, x12.Options{DefaultCurrency: "USD"})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			orders := ic.Orders()
			rejected := 0
			for _, g := range ic.Groups {
				for _, s := range g.Sets {
					if !s.Accepted() {
						rejected++
					}
				}
			}
			if got, want := len(orders), tt.orders; got != want {
				t.Fatalf("orders = %d, want %d", got, want)
			}
			if got, want := rejected, tt.rejected; got != want {
				t.Errorf("rejected sets = %d, want %d", got, want)
			}
			var codes []string
			for _, w := range orders[0].Warnings {
				codes = append(codes, w.Code)
			}
			if got, want := codes, tt.warnings; !slices.Equal(got, want) {
				t.Errorf("warnings = %v, want %v", got, want)
			}

			got := goldenOf(t, ic)
			path := filepath.Join("testdata", strings.TrimSuffix(tt.file, ".edi")+".golden.json")
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
				t.Errorf("golden mismatch for %s; run go test -run TestParseFixtures -update and review the diff\n got: %s", tt.file, got)
			}
		})
	}
}

func TestNodeX12Order(t *testing.T) {
	body, err := os.ReadFile("testdata/node-x12-850.edi")
	if err != nil {
		t.Fatal(err)
	}
	ic, err := x12.Parse(body, x12.Options{DefaultCurrency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	o := ic.Orders()[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"ExternalID", o.ExternalID, "08292233294"},
		{"Terms.PONumber", o.Terms.PONumber, "08292233294"},
		{"PlacedAt", o.PlacedAt, time.Date(2010, 11, 27, 0, 0, 0, 0, time.UTC)},
		{"Terms.RequestedDelivery", o.Terms.RequestedDelivery, "2010-12-14"},
		{"Terms.PaymentTerms", o.Terms.PaymentTerms, "2/45 Net 46"},
		{"ShippingAddress.City", o.ShippingAddress.City, "SOLON"},
		{"Currency", o.Currency, "USD"},
		{"Total", o.Total, int64(1304594)},
		{"len(Lines)", len(o.Lines), 6},
		{"Lines[0].SKU", o.Lines[0].SKU, "AB3542"},
		{"Lines[0].Title", o.Lines[0].Title, "SMALL WIDGET"},
		{"Lines[4].UnitPrice", o.Lines[4].UnitPrice, int64(750)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// interchange wraps set bodies (segments without ST/SE, "~"-terminated)
// in a valid envelope, with correct ST/SE counts.
func interchange(sets ...string) string {
	var b strings.Builder
	b.WriteString("ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *260301*1200*U*00401*000000007*0*P*>~\n")
	b.WriteString("GS*PO*BUYER*SELLER*20260301*1200*7*X*004010~\n")
	for i, s := range sets {
		segs := strings.Count(s, "~") + 2
		ctl := "000" + string(rune('1'+i))
		b.WriteString("ST*850*" + ctl + "~\n" + s + "SE*" + itoa(segs) + "*" + ctl + "~\n")
	}
	b.WriteString("GE*" + itoa(len(sets)) + "*7~\nIEA*1*000000007~\n")
	return b.String()
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

const goodSet = "BEG*00*SA*PO-1**20260301~N1*ST*Shop~PO1*1*2*EA*10.50**VN*A1~PO1*2*1*EA*3**SK*B2~CTT*2~AMT*1*24.00~"

func TestParseSetViolations(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		code   string            // "" when the set is accepted
		fields map[string]string // keys that must be present
	}{
		{"accepted", interchange(goodSet), "", nil},
		{"price not a number", interchange(strings.Replace(goodSet, "10.50", "1O.50", 1)),
			ordergate.EINVALID, map[string]string{"ST[1].PO1[4].PO104": "unit price is not a decimal number"}},
		{"price missing", interchange(strings.Replace(goodSet, "*3**SK", "***SK", 1)),
			ordergate.EUNPROCESSABLE, map[string]string{"ST[1].PO1[5].PO104": "unit price missing; EDI lines without a price are rejected"}},
		{"sub-minor price", interchange(strings.Replace(goodSet, "10.50", "10.505", 1)),
			ordergate.EUNPROCESSABLE, map[string]string{"ST[1].PO1[4].PO104": "unit price has more decimals than USD allows"}},
		{"fractional quantity", interchange(strings.Replace(goodSet, "*2*EA", "*2.5*EA", 1)),
			ordergate.EINVALID, map[string]string{"ST[1].PO1[4].PO102": "quantity is not a whole number"}},
		{"ctt mismatch", interchange(strings.Replace(goodSet, "CTT*2", "CTT*3", 1)),
			ordergate.EUNPROCESSABLE, map[string]string{"ST[1].CTT[6].CTT01": "line count 3 does not match the 2 PO1 segments"}},
		{"amt mismatch", interchange(strings.Replace(goodSet, "24.00", "25.00", 1)),
			ordergate.EUNPROCESSABLE, map[string]string{"ST[1].AMT[7].AMT02": "line item total 25.00 does not match the sum of the lines 24.00"}},
		{"bad date", interchange(strings.Replace(goodSet, "20260301", "20261301", 1)),
			ordergate.EINVALID, map[string]string{"ST[1].BEG[2].BEG05": "purchase order date is not CCYYMMDD"}},
		{"unknown currency", interchange("CUR*BY*XXX~" + goodSet),
			ordergate.EINVALID, map[string]string{"ST[1].CUR[2].CUR02": `unknown currency "XXX"`, "ST[1].BEG[3]": "BEG must directly follow ST"}},
		{"no lines", interchange("BEG*00*SA*PO-1**20260301~CTT*0~"),
			ordergate.EINVALID, map[string]string{"ST[1].PO1[4]": "no PO1 line items"}},
		{"no product id", interchange(strings.Replace(goodSet, "**VN*A1", "", 1)),
			ordergate.EUNPROCESSABLE, map[string]string{"ST[1].PO1[4].PO107": "no product ID with a qualifier in [SK VN BP UP IN EN CB]"}},
		{"cancellation", interchange(strings.Replace(goodSet, "BEG*00", "BEG*01", 1)),
			ordergate.EUNPROCESSABLE, map[string]string{"ST[1].BEG[2].BEG01": "purpose 01 (cancellation) is not an order; cancellations are not taken in"}},
		{"se count", strings.Replace(interchange(goodSet), "SE*8*", "SE*7*", 1),
			ordergate.EINVALID, map[string]string{"ST[1].SE[8].SE01": `segment count "7" does not match the 8 segments of the set`}},
		{"se control", strings.Replace(interchange(goodSet), "SE*8*0001", "SE*8*0002", 1),
			ordergate.EINVALID, map[string]string{"ST[1].SE[8].SE02": `control number "0002" does not match ST02 "0001"`}},
		{"se missing", strings.Replace(interchange(goodSet), "SE*8*0001~\n", "", 1),
			ordergate.EINVALID, map[string]string{"ST[1].SE[8]": "transaction set has no SE trailer"}},
		{"not an 850", strings.Replace(interchange(goodSet), "ST*850", "ST*810", 1),
			ordergate.EINVALID, map[string]string{"ST[1].ST[1].ST01": `transaction set "810" is not supported; only 850 is`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, err := x12.Parse([]byte(tt.body), x12.Options{DefaultCurrency: "USD"})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			s := ic.Groups[0].Sets[0]
			if got, want := ordergate.ErrorCode(s.Err), tt.code; got != want {
				t.Fatalf("ErrorCode(Err) = %q, want %q (err %v, violations %+v)", got, want, s.Err, s.Violations)
			}
			if tt.code == "" {
				return
			}
			var e *ordergate.Error
			errors.As(s.Err, &e)
			for k, want := range tt.fields {
				if got := e.Fields[k]; got != want {
					t.Errorf("Fields[%q] = %q, want %q (all: %v)", k, got, want, e.Fields)
				}
			}
		})
	}
}

func TestParseAcceptedOrder(t *testing.T) {
	ic, err := x12.Parse([]byte(interchange(goodSet)), x12.Options{DefaultCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	o := ic.Orders()[0]
	if got, want := o.Currency, "EUR"; got != want {
		t.Errorf("Currency = %q, want %q", got, want)
	}
	if got, want := o.Total, int64(2400); got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
	if got, want := []string{o.Lines[0].SKU, o.Lines[1].SKU}, []string{"A1", "B2"}; !slices.Equal(got, want) {
		t.Errorf("SKUs = %v, want %v", got, want)
	}
}

func TestParseNoCurrency(t *testing.T) {
	ic, err := x12.Parse([]byte(interchange(goodSet)), x12.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ordergate.ErrorCode(ic.Groups[0].Sets[0].Err), ordergate.EUNPROCESSABLE; got != want {
		t.Errorf("ErrorCode = %q, want %q", got, want)
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	good := interchange(goodSet)
	tests := []struct {
		name string
		body string
		code string
	}{
		{"empty", "", ordergate.EINVALID},
		{"no isa", "GS*PO~", ordergate.EINVALID},
		{"short isa", "ISA*00*", ordergate.EINVALID},
		{"letter separator", strings.ReplaceAll(good[:106], "*", "A"), ordergate.EINVALID},
		{"segment outside set", strings.Replace(good, "GE*1", "REF*X~GE*1", 1), ordergate.EINVALID},
		{"st outside group", strings.Replace(good, "GS*PO*BUYER*SELLER*20260301*1200*7*X*004010~", "", 1), ordergate.EINVALID},
		{"data after iea", good + "GS*PO~", ordergate.EINVALID},
		{"bad segment id", strings.Replace(good, "N1*ST", "n1*ST", 1), ordergate.EINVALID},
		{"good", good, ""},
		{"bom and crlf", "\xef\xbb\xbf" + strings.ReplaceAll(good, "\n", "\r\n"), ""},
		{"newline terminator", strings.ReplaceAll(strings.ReplaceAll(good, "~\n", "\n"), ">\n", ">\n"), ""},
		{"no trailers", strings.Replace(strings.Replace(good, "GE*1*7~\n", "", 1), "IEA*1*000000007~\n", "", 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := x12.Parse([]byte(tt.body), x12.Options{DefaultCurrency: "USD"})
			if got, want := ordergate.ErrorCode(err), tt.code; got != want {
				t.Errorf("Parse() error code = %q, want %q (err %v)", got, want, err)
			}
		})
	}
}

func TestParseEnvelopeWarnings(t *testing.T) {
	good := interchange(goodSet)
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"clean", good, nil},
		{"isa/iea mismatch", strings.Replace(good, "IEA*1*000000007", "IEA*1*000000008", 1), []string{x12.WarnControlNumberMismatch}},
		{"gs/ge mismatch", strings.Replace(good, "GE*1*7", "GE*1*8", 1), []string{x12.WarnControlNumberMismatch}},
		{"ge count", strings.Replace(good, "GE*1*7", "GE*2*7", 1), []string{x12.WarnGroupCountMismatch}},
		{"no trailers", strings.Replace(strings.Replace(good, "GE*1*7~\n", "", 1), "IEA*1*000000007~\n", "", 1),
			[]string{x12.WarnTrailerMissing, x12.WarnTrailerMissing}},
		{"test", strings.Replace(good, "*0*P*>", "*0*T*>", 1), []string{x12.WarnTestInterchange}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, err := x12.Parse([]byte(tt.body), x12.Options{DefaultCurrency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range ic.Orders()[0].Warnings {
				got = append(got, w.Code)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAck(t *testing.T) {
	body := interchange(goodSet, strings.Replace(goodSet, "10.50", "1O.50", 1), goodSet)
	ic, err := x12.Parse([]byte(body), x12.Options{DefaultCurrency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	got := string(x12.Ack(ic, ackOptions))
	want := "ISA*00*          *00*          *ZZ*SELLER         *ZZ*BUYER          *260301*1230*U*00401*000000001*0*P*>~\n" +
		"GS*FA*SELLER*BUYER*20260301*1230*1*X*004010~\n" +
		"ST*997*0001~\n" +
		"AK1*PO*7~\n" +
		"AK2*850*0001~\n" +
		"AK5*A~\n" +
		"AK2*850*0002~\n" +
		"AK3*PO1*4**8~\n" +
		"AK4*4**6*1O.50~\n" +
		"AK5*R*5~\n" +
		"AK2*850*0003~\n" +
		"AK5*A~\n" +
		"AK9*P*3*3*2~\n" +
		"SE*12*0001~\n" +
		"GE*1*1~\n" +
		"IEA*1*000000001~\n"
	if got != want {
		t.Errorf("Ack() =\n%s\nwant\n%s", got, want)
	}

	// The acknowledgment is itself a well-formed interchange.
	back, err := x12.Parse([]byte(got), x12.Options{})
	if err != nil {
		t.Fatalf("Parse(Ack()) error: %v", err)
	}
	if got, want := back.SenderID, "SELLER"; got != want {
		t.Errorf("ack sender = %q, want %q", got, want)
	}
	for _, v := range back.Groups[0].Sets[0].Violations {
		if v.SetCode != "1" {
			t.Errorf("ack set violation %+v, want only \"not an 850\"", v)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile("testdata/node-x12-850.edi")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ic, err := x12.Parse(body, x12.Options{DefaultCurrency: "USD"})
		if err != nil || len(ic.Orders()) != 1 {
			b.Fatalf("Parse: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.edi")
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(interchange(goodSet, strings.Replace(goodSet, "10.50", "", 1))))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := x12.Parse(body, x12.Options{DefaultCurrency: "USD"})
		if err != nil {
			var e *ordergate.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %T is not *ordergate.Error", err)
			}
			return
		}
		for _, g := range ic.Groups {
			for _, s := range g.Sets {
				if s.Accepted() {
					checkOrder(t, s.Order)
					continue
				}
				var e *ordergate.Error
				if !errors.As(s.Err, &e) || len(e.Fields) == 0 || len(s.Violations) == 0 {
					t.Fatalf("rejected set %d: Err %v, violations %v", s.Ordinal, s.Err, s.Violations)
				}
			}
		}
		ack := x12.Ack(ic, ackOptions)
		back, err := x12.Parse(ack, x12.Options{})
		if err != nil {
			t.Fatalf("Parse(Ack()) = %v\n%q", err, ack)
		}
		if got, want := len(back.Groups), len(ic.Groups); got != want {
			t.Fatalf("ack groups = %d, want %d", got, want)
		}
		for _, g := range back.Groups {
			if len(g.AckCodes) != 0 {
				t.Fatalf("ack group codes %v\n%q", g.AckCodes, ack)
			}
			for _, s := range g.Sets {
				for _, v := range s.Violations {
					if v.SetCode != "1" {
						t.Fatalf("ack set violation %+v\n%q", v, ack)
					}
				}
			}
		}
	})
}

// checkOrder checks the invariants every accepted order keeps.
func checkOrder(t *testing.T, o order.Order) {
	t.Helper()
	if len(o.Lines) == 0 || o.Currency == "" || o.ExternalID == "" {
		t.Fatalf("accepted order without lines, currency or id: %+v", o)
	}
	var sum int64
	for _, l := range o.Lines {
		if l.Quantity <= 0 || l.UnitPrice < 0 || l.Total != l.Quantity*l.UnitPrice || l.SKU == "" {
			t.Fatalf("bad line %+v", l)
		}
		sum += l.Total
	}
	if sum != o.Subtotal || o.Total != o.Subtotal {
		t.Fatalf("totals %d/%d, lines sum to %d", o.Subtotal, o.Total, sum)
	}
}
