// Package csvorder reads orders from a CSV file with one order line per
// row, streaming: memory use depends on the largest order, not on the size
// of the file.
//
// The first row names the columns (case-insensitive, in any order; a UTF-8
// byte order mark is ignored). Columns are described in Columns; a column
// the reader does not know is an error, because a silently ignored
// "discount" or "tax" column would change what an order is worth.
//
// Rows are grouped into orders by order_id: consecutive rows with the same
// order_id form one order. Order-level columns (everything except sku,
// title, quantity, unit_price, discount and tax) may be repeated on every
// row of an order or given only on its first; when repeated they must
// agree. An order_id that comes back after other orders is read as a new
// order with the same external id, which the intake flow treats as a
// duplicate delivery; sort or group the file by order_id first.
//
// Each call to Next returns the next order, or an *ordergate.Error for an
// order with bad rows, naming them in Fields as "row 17.quantity" (rows
// are counted as lines of the file, the header being row 1). The reader
// then carries on with the next order. A row that cannot be read at all
// (bad quoting, missing order_id) cannot be assigned to an order, so it
// fails the order before it and the order after it: no order is taken in
// that might be missing a line.
//
// The jaffle_shop raw_orders.csv export (id, user_id, order_date, status)
// is rejected at the header: it has no lines and no amounts, so it does
// not describe orders that can be fulfilled.
package csvorder

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// Columns lists every column the reader knows, in the order of this table,
// with what it means. Amounts are decimal strings in the order's currency
// ("12.50"); quantities are whole numbers.
//
//	order_id            required; the channel's order id (ExternalID); groups rows
//	number              order number shown to people; defaults to order_id
//	placed_at           RFC 3339 time or YYYY-MM-DD (taken as UTC midnight)
//	currency            ISO 4217 code; required unless Options.DefaultCurrency is set
//	customer_name, customer_email, customer_phone
//	status              the channel's own order status, kept as FulfillmentStatus
//	payment_status      the channel's payment status, kept as PaymentStatus
//	po_number, payment_terms
//	requested_delivery  YYYY-MM-DD
//	shipping            order shipping charge
//	total               order total; when given it must equal
//	                    Σ(quantity × unit_price − discount + tax) + shipping
//	ship_name, ship_company, ship_line1, ship_line2, ship_city, ship_region,
//	ship_postal_code, ship_country   shipping address
//	bill_…              the same eight for the billing address
//	sku                 required, line level
//	title               line level
//	quantity            required, line level, a whole number above zero
//	unit_price          required, line level
//	discount, tax       line level, amounts for the whole line
var Columns = columnNames[:]

const (
	colOrderID = iota
	colNumber
	colPlacedAt
	colCurrency
	colCustomerName
	colCustomerEmail
	colCustomerPhone
	colStatus
	colPaymentStatus
	colPONumber
	colPaymentTerms
	colRequestedDelivery
	colShipping
	colTotal
	colShipName // eight shipping address columns follow in address order
	colShipCompany
	colShipLine1
	colShipLine2
	colShipCity
	colShipRegion
	colShipPostalCode
	colShipCountry
	colBillName // eight billing address columns
	colBillCompany
	colBillLine1
	colBillLine2
	colBillCity
	colBillRegion
	colBillPostalCode
	colBillCountry
	colSKU // line-level columns from here on
	colTitle
	colQuantity
	colUnitPrice
	colDiscount
	colTax
	numColumns
)

var columnNames = [numColumns]string{
	"order_id", "number", "placed_at", "currency", "customer_name", "customer_email", "customer_phone",
	"status", "payment_status", "po_number", "payment_terms", "requested_delivery", "shipping", "total",
	"ship_name", "ship_company", "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postal_code", "ship_country",
	"bill_name", "bill_company", "bill_line1", "bill_line2", "bill_city", "bill_region", "bill_postal_code", "bill_country",
	"sku", "title", "quantity", "unit_price", "discount", "tax",
}

var requiredColumns = []int{colOrderID, colSKU, colQuantity, colUnitPrice}

// Defaults for Options.
const (
	DefaultMaxLinesPerOrder = 10000
	DefaultMaxRowBytes      = 1 << 20
)

// ErrRowTooLong is returned (wrapped in an EINVALID error) when a line of
// the input is longer than Options.MaxRowBytes; reading stops there.
var ErrRowTooLong = errors.New("csv line too long")

// Options configures a Reader.
type Options struct {
	// DefaultCurrency is used for rows without a currency column or value.
	DefaultCurrency string
	// MaxLinesPerOrder bounds the memory one order may take; an order with
	// more rows is rejected. Zero means DefaultMaxLinesPerOrder.
	MaxLinesPerOrder int
	// MaxRowBytes bounds the length of one line of input. Zero means
	// DefaultMaxRowBytes.
	MaxRowBytes int
}

// Reader reads orders from CSV. It is not safe for concurrent use.
type Reader struct {
	csv  *csv.Reader
	opts Options
	// pos maps each known column to its field index, or -1.
	pos    [numColumns]int
	fields int // number of header fields
	header bool
	err    error // sticky: returned by every later Next

	pending *row      // first row of the next order, already read
	taint   []problem // unreadable rows that may belong to the next order

	// last holds the rows of what Next returned last; see Rows.
	last struct {
		rows     []row
		problems []problem
	}
}

// row is one CSV record, its order id and its line number. A row whose
// fields could not be aligned with the header has a nil rec.
type row struct {
	id   string
	rec  []string
	line int
}

// problem is one thing wrong with a row; field "" means the whole row.
type problem struct {
	line    int
	field   string
	message string
	code    string // ordergate.EINVALID or EUNPROCESSABLE
}

// NewReader returns a Reader reading CSV from r.
func NewReader(r io.Reader, opts Options) *Reader {
	if opts.MaxLinesPerOrder <= 0 {
		opts.MaxLinesPerOrder = DefaultMaxLinesPerOrder
	}
	if opts.MaxRowBytes <= 0 {
		opts.MaxRowBytes = DefaultMaxRowBytes
	}
	c := csv.NewReader(&lineLimiter{r: r, max: opts.MaxRowBytes})
	c.ReuseRecord = true
	return &Reader{csv: c, opts: opts}
}

// Next returns the next order. It returns io.EOF after the last one, an
// *ordergate.Error with code EINVALID or EUNPROCESSABLE for an order with
// bad rows (after which Next may be called again), and an EINVALID error
// for a bad header or unreadable input, after which every call returns the
// same error.
func (r *Reader) Next() (order.Order, error) {
	if r.err != nil {
		return order.Order{}, r.err
	}
	if !r.header {
		if err := r.readHeader(); err != nil {
			r.err = err
			return order.Order{}, err
		}
		r.header = true
	}
	var g group
	if r.pending != nil {
		g.start(r.pending.id, r.opts.MaxLinesPerOrder)
		g.add(*r.pending)
		g.problems = append(g.problems, r.taint...)
		r.pending, r.taint = nil, nil
	}
	for {
		rec, err := r.csv.Read()
		var (
			pe     *csv.ParseError
			line   int
			rowErr *problem // a problem that still lets the row be assigned to its order
		)
		switch {
		case err == io.EOF:
			if g.id == "" {
				r.err = io.EOF
				if len(r.taint) > 0 {
					r.last.rows, r.last.problems = nil, r.taint
					return order.Order{}, problemsError("", r.taint)
				}
				return order.Order{}, io.EOF
			}
			return r.build(&g)
		case errors.As(err, &pe) && errors.Is(err, csv.ErrFieldCount) && r.pos[colOrderID] < len(rec):
			line = pe.StartLine
			rowErr = &problem{line: line, code: ordergate.EINVALID,
				message: fmt.Sprintf("has %d fields, the header has %d", len(rec), r.fields)}
		case errors.As(err, &pe):
			r.unreadable(&g, problem{line: pe.StartLine, message: pe.Err.Error(), code: ordergate.EINVALID})
			continue
		case err != nil:
			r.err = ordergate.Errorf(ordergate.EINVALID, "csv: read: %v", err)
			return order.Order{}, r.err
		default:
			line, _ = r.csv.FieldPos(0)
		}
		id := strings.TrimSpace(rec[r.pos[colOrderID]])
		if id == "" {
			p := problem{line: line, field: "order_id", message: "missing", code: ordergate.EINVALID}
			if rowErr != nil {
				p = *rowErr
			}
			r.unreadable(&g, p)
			continue
		}
		rw := row{id: id, rec: clone(rec), line: line}
		switch {
		case g.id == "":
			g.start(id, r.opts.MaxLinesPerOrder)
			g.problems = append(g.problems, r.taint...)
			r.taint = nil
		case id == g.id:
			r.taint = nil // the unreadable rows were inside this order
		default:
			if rowErr != nil {
				// Keep the problem with the row's own order.
				r.taint = append(r.taint, *rowErr)
				rw.rec = nil
			}
			r.pending = &rw
			return r.build(&g)
		}
		if rowErr != nil {
			g.problems = append(g.problems, *rowErr)
			continue
		}
		g.add(rw)
	}
}

// unreadable records a row that cannot be assigned to an order: it fails
// the order being read and the one after it.
func (r *Reader) unreadable(g *group, p problem) {
	if g.id != "" {
		g.problems = append(g.problems, p)
	}
	r.taint = append(r.taint, p)
}

func clone(rec []string) []string { return append([]string(nil), rec...) }

// readHeader reads the column names.
func (r *Reader) readHeader() error {
	rec, err := r.csv.Read()
	if err == io.EOF {
		return ordergate.Errorf(ordergate.EINVALID, "csv: empty input, no header row")
	}
	if err != nil {
		return ordergate.Errorf(ordergate.EINVALID, "csv: header: %v", err)
	}
	for i := range r.pos {
		r.pos[i] = -1
	}
	r.fields = len(rec)
	index := make(map[string]int, numColumns)
	for i, n := range columnNames {
		index[n] = i
	}
	fields := map[string]string{}
	var unknown, missing []string
	for i, name := range rec {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		c, ok := index[name]
		switch {
		case !ok:
			fields["header."+name] = "unknown column"
			unknown = append(unknown, name)
		case r.pos[c] >= 0:
			fields["header."+name] = "duplicate column"
			unknown = append(unknown, name)
		default:
			r.pos[c] = i
		}
	}
	required := requiredColumns
	if r.opts.DefaultCurrency == "" {
		required = append(required[:len(required):len(required)], colCurrency)
	}
	for _, c := range required {
		if r.pos[c] < 0 {
			fields["header."+columnNames[c]] = "required column missing"
			missing = append(missing, columnNames[c])
		}
	}
	if len(fields) == 0 {
		return nil
	}
	var parts []string
	if len(unknown) > 0 {
		parts = append(parts, "unknown or duplicate columns "+strings.Join(unknown, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "missing required columns "+strings.Join(missing, ", "))
	}
	return &ordergate.Error{Code: ordergate.EINVALID, Message: "csv: header: " + strings.Join(parts, "; "), Fields: fields}
}

// group is the rows of one order being read.
type group struct {
	id       string
	rows     []row
	max      int
	problems []problem
	overflow bool
}

func (g *group) start(id string, max int) {
	*g = group{id: id, max: max}
}

// add keeps a row, up to max rows; a row with a nil rec is not kept.
func (g *group) add(rw row) {
	if rw.rec == nil {
		return
	}
	if len(g.rows) == g.max {
		if !g.overflow {
			g.overflow = true
			g.problems = append(g.problems, problem{line: rw.line,
				message: fmt.Sprintf("order has more than %d lines", g.max), code: ordergate.EUNPROCESSABLE})
		}
		return
	}
	g.rows = append(g.rows, rw)
}

// Rows returns the line numbers, in order, of the rows of the order (or
// of the rows that belong to no order) that Next returned last, whether
// it was taken or refused. A row that could not be read at all is
// counted with both orders it fails.
func (r *Reader) Rows() []int {
	lines := make([]int, 0, len(r.last.rows)+len(r.last.problems))
	for _, rw := range r.last.rows {
		lines = append(lines, rw.line)
	}
	for _, p := range r.last.problems {
		lines = append(lines, p.line)
	}
	sort.Ints(lines)
	return slices.Compact(lines)
}

// build turns a group into an order, or an error naming every bad row.
func (r *Reader) build(g *group) (order.Order, error) {
	r.last.rows, r.last.problems = g.rows, g.problems
	if len(g.rows) == 0 {
		return order.Order{}, problemsError(g.id, g.problems)
	}
	var (
		head  [numColumns]string // order-level values
		first [numColumns]int    // row each order-level value came from
		ps    = g.problems
	)
	bad := func(line int, c int, code, format string, args ...any) {
		ps = append(ps, problem{line: line, field: columnNames[c], message: fmt.Sprintf(format, args...), code: code})
	}
	for _, rw := range g.rows {
		for c := 0; c < colSKU; c++ {
			v := strings.TrimSpace(r.value(rw, c))
			switch {
			case v == "":
			case head[c] == "":
				head[c], first[c] = v, rw.line
			case v != head[c]:
				bad(rw.line, c, ordergate.EUNPROCESSABLE, "%q differs from row %d (%q)", v, first[c], head[c])
			}
		}
	}
	o := order.Order{
		Channel:           order.ChannelCSV,
		ExternalID:        g.id,
		Number:            head[colNumber],
		Status:            order.StatusReceived,
		Customer:          order.Customer{Name: head[colCustomerName], Email: head[colCustomerEmail], Phone: head[colCustomerPhone]},
		ShippingAddress:   address(head[colShipName : colShipCountry+1]),
		BillingAddress:    address(head[colBillName : colBillCountry+1]),
		PaymentStatus:     head[colPaymentStatus],
		FulfillmentStatus: head[colStatus],
		Terms:             order.Terms{PONumber: head[colPONumber], PaymentTerms: head[colPaymentTerms]},
		Lines:             make([]order.Line, 0, len(g.rows)),
		Warnings:          []order.Warning{},
	}
	if o.Number == "" {
		o.Number = g.id
	}
	if v := head[colPlacedAt]; v != "" {
		t, err := parseTime(v)
		if err != nil {
			bad(first[colPlacedAt], colPlacedAt, ordergate.EINVALID, "not an RFC 3339 time or YYYY-MM-DD date")
		}
		o.PlacedAt = t.UTC()
	}
	if v := head[colRequestedDelivery]; v != "" {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			bad(first[colRequestedDelivery], colRequestedDelivery, ordergate.EINVALID, "not a YYYY-MM-DD date")
		}
		o.Terms.RequestedDelivery = v
	}
	o.Currency = strings.ToUpper(head[colCurrency])
	if o.Currency == "" {
		o.Currency = r.opts.DefaultCurrency
	}
	if _, ok := order.MinorDigits(o.Currency); !ok {
		line := first[colCurrency]
		if line == 0 {
			line = g.rows[0].line
		}
		bad(line, colCurrency, ordergate.EINVALID, "unknown currency %q", o.Currency)
		return order.Order{}, problemsError(g.id, ps)
	}
	amount := func(line, c int, v string) int64 {
		if v == "" {
			return 0
		}
		a, err := order.ParseAmount(v, o.Currency)
		switch {
		case errors.Is(err, order.ErrSubMinorPrecision):
			bad(line, c, ordergate.EINVALID, "more decimals than %s allows", o.Currency)
		case err != nil:
			bad(line, c, ordergate.EINVALID, "not a decimal amount")
		case a < 0:
			bad(line, c, ordergate.EINVALID, "negative")
		}
		return a
	}
	o.ShippingTotal = amount(first[colShipping], colShipping, head[colShipping])
	var sub, disc, tax checkedSum
	for _, rw := range g.rows {
		l := order.Line{SKU: strings.TrimSpace(r.value(rw, colSKU)), Title: strings.TrimSpace(r.value(rw, colTitle))}
		if l.SKU == "" {
			bad(rw.line, colSKU, ordergate.EINVALID, "missing")
		}
		q, ok := parseQuantity(strings.TrimSpace(r.value(rw, colQuantity)))
		if !ok {
			bad(rw.line, colQuantity, ordergate.EINVALID, "not a whole number above zero")
		}
		l.Quantity = q
		price := strings.TrimSpace(r.value(rw, colUnitPrice))
		if price == "" {
			bad(rw.line, colUnitPrice, ordergate.EINVALID, "missing")
		}
		l.UnitPrice = amount(rw.line, colUnitPrice, price)
		l.Discount = amount(rw.line, colDiscount, strings.TrimSpace(r.value(rw, colDiscount)))
		l.Tax = amount(rw.line, colTax, strings.TrimSpace(r.value(rw, colTax)))
		var line checkedSum
		line.addProduct(l.Quantity, l.UnitPrice)
		if !line.overflow && l.Discount > line.v {
			bad(rw.line, colDiscount, ordergate.EUNPROCESSABLE, "larger than quantity × unit_price")
		}
		line.add(-l.Discount)
		line.add(l.Tax)
		if line.overflow {
			bad(rw.line, colUnitPrice, ordergate.EUNPROCESSABLE, "line total is too large")
		}
		l.Total = line.v
		sub.addProduct(l.Quantity, l.UnitPrice)
		disc.add(l.Discount)
		tax.add(l.Tax)
		o.Lines = append(o.Lines, l)
	}
	total := sub
	total.add(-disc.v)
	total.add(o.ShippingTotal)
	total.add(tax.v)
	if sub.overflow || disc.overflow || tax.overflow || total.overflow {
		bad(g.rows[0].line, colTotal, ordergate.EUNPROCESSABLE, "order total is too large")
	}
	o.Subtotal, o.DiscountTotal, o.TaxTotal, o.Total = sub.v, disc.v, tax.v, total.v
	// The total column is only compared when everything else is right, so
	// that one bad amount does not also show up as a total mismatch.
	if v := head[colTotal]; v != "" && len(ps) == len(g.problems) {
		if t := amount(first[colTotal], colTotal, v); t != o.Total && len(ps) == len(g.problems) {
			bad(first[colTotal], colTotal, ordergate.EUNPROCESSABLE, "%s does not match the lines, shipping and tax: %s",
				order.FormatAmount(t, o.Currency), order.FormatAmount(o.Total, o.Currency))
		}
	}
	if len(ps) > 0 {
		return order.Order{}, problemsError(g.id, ps)
	}
	return o, nil
}

// value returns column c of the row, or "" when the file has no such column.
func (r *Reader) value(rw row, c int) string {
	i := r.pos[c]
	if i < 0 || i >= len(rw.rec) {
		return ""
	}
	return rw.rec[i]
}

func address(v []string) order.Address {
	return order.Address{Name: v[0], Company: v[1], Line1: v[2], Line2: v[3], City: v[4], Region: v[5],
		PostalCode: v[6], Country: strings.ToUpper(v[7])}
}

// problemsError sums up an order's problems in one *ordergate.Error.
func problemsError(id string, ps []problem) error {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].line < ps[j].line })
	e := &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Fields: map[string]string{},
		Details: map[string]any{"order_id": id, "row": ps[0].line}}
	for _, p := range ps {
		if p.code == ordergate.EINVALID {
			e.Code = ordergate.EINVALID
		}
		key := fmt.Sprintf("row %d", p.line)
		if p.field != "" {
			key += "." + p.field
		}
		if prev, ok := e.Fields[key]; ok {
			if !strings.Contains(prev, p.message) {
				e.Fields[key] = prev + "; " + p.message
			}
		} else {
			e.Fields[key] = p.message
		}
	}
	what := "rows that belong to no order"
	if id != "" {
		what = fmt.Sprintf("order %q", id)
	}
	key := fmt.Sprintf("row %d", ps[0].line)
	if ps[0].field != "" {
		key += "." + ps[0].field
	}
	e.Message = fmt.Sprintf("csv: %s: %s: %s", what, key, ps[0].message)
	if len(ps) > 1 {
		e.Message += fmt.Sprintf(" (and %d more)", len(ps)-1)
	}
	return e
}

// parseTime accepts an RFC 3339 time or a YYYY-MM-DD date (UTC midnight).
func parseTime(s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		return time.Parse(time.DateOnly, s)
	}
	return time.Parse(time.RFC3339, s)
}

// parseQuantity parses a whole number above zero.
func parseQuantity(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, v > 0
}

// checkedSum adds int64 values and remembers whether one overflowed.
type checkedSum struct {
	v        int64
	overflow bool
}

func (s *checkedSum) add(x int64) {
	if s.overflow || x > 0 && s.v > math.MaxInt64-x || x < 0 && s.v < math.MinInt64-x {
		s.overflow = true
		return
	}
	s.v += x
}

func (s *checkedSum) addProduct(a, b int64) {
	if a < 0 || b < 0 || a != 0 && b > math.MaxInt64/a {
		s.overflow = true
		return
	}
	s.add(a * b)
}

// lineLimiter fails a read once a line runs longer than max bytes, so that
// a file without line breaks cannot make the CSV reader buffer all of it.
type lineLimiter struct {
	r   io.Reader
	max int
	run int // bytes since the last line break
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	chunk := p[:n]
	for {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			l.run += len(chunk)
			break
		}
		if l.run+i > l.max {
			l.run += i
			break
		}
		l.run, chunk = 0, chunk[i+1:]
	}
	if l.run > l.max {
		return n, fmt.Errorf("%w (over %d bytes)", ErrRowTooLong, l.max)
	}
	return n, err
}
