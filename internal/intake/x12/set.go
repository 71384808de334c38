package x12

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// WarnUnitOfMeasure is added when a line is ordered in a unit other than
// each (EA): the canonical Line.Quantity has no unit, so a person should
// see that "2500" means 2500 yards.
const WarnUnitOfMeasure = "edi.unit_of_measure"

// WarnSKUAmbiguous is added when two lines get the same SKU although their
// other product IDs differ: the partner probably uses the preferred
// qualifier for something else (a description, a style), and
// Options.ProductIDPreference should be set for that partner.
const WarnSKUAmbiguous = "edi.sku_ambiguous"

// AK4 data element syntax error codes used in violations.
const (
	elemMissing     = "1" // mandatory data element missing
	elemInvalidChar = "6" // invalid character in data element
	elemInvalidCode = "7" // invalid code value
	elemInvalidDate = "8" // invalid date
)

// AK3 segment syntax error codes used in violations.
const (
	segMissing     = "3" // mandatory segment missing
	segTooMany     = "5" // segment exceeds maximum use
	segOutOfOrder  = "7" // segment not in proper sequence
	segElemInError = "8" // segment has data element errors
)

// line850 is a PO1 loop before money is converted.
type line850 struct {
	seg   segment
	pos   int
	qty   int64
	uom   string
	price string
	sku   string
	ids   string // every product ID, for telling lines with the same SKU apart
	title string // PID05 description
	pd    string // PO1 "PD" product description, used when there is no PID
}

// setParser gathers what one 850 set says and what is wrong with it.
type setParser struct {
	set  *Set
	opts Options
}

func (p *setParser) violate(v Violation) {
	if v.Code == "" {
		v.Code = ordergate.EINVALID
	}
	if v.SegmentCode == "" && v.ElementCode != "" {
		v.SegmentCode = segElemInError
	}
	p.set.Violations = append(p.set.Violations, v)
}

// elementProblem records a problem with element i of the segment at pos.
func (p *setParser) elementProblem(s segment, pos, i int, code, ak4, problem string) {
	p.violate(Violation{Segment: s.id(), Position: pos, Element: i, Problem: problem,
		Value: s.el(i), ElementCode: ak4, Code: code})
}

// parseSet turns the segments of one set (ST first, SE last when trailer is
// true) into a Set.
func parseSet(segs []segment, trailer bool, ordinal int, opts Options) Set {
	st := segs[0]
	s := Set{Ordinal: ordinal, ID: st.el(1), ControlNumber: st.el(2)}
	p := &setParser{set: &s, opts: opts}
	body := segs[1:]
	if trailer {
		se := segs[len(segs)-1]
		body = segs[1 : len(segs)-1]
		if n, ok := parseWhole(se.el(1)); !ok || n != int64(len(segs)) {
			p.violate(Violation{Segment: "SE", Position: len(segs), Element: 1, Value: se.el(1), SetCode: "4",
				Problem: fmt.Sprintf("segment count %q does not match the %d segments of the set", se.el(1), len(segs))})
		}
		if se.el(2) != s.ControlNumber {
			p.violate(Violation{Segment: "SE", Position: len(segs), Element: 2, Value: se.el(2), SetCode: "3",
				Problem: fmt.Sprintf("control number %q does not match ST02 %q", se.el(2), s.ControlNumber)})
		}
	} else {
		p.violate(Violation{Segment: "SE", Position: len(segs) + 1, SetCode: "2", Problem: "transaction set has no SE trailer"})
	}
	switch {
	case s.ControlNumber == "":
		p.violate(Violation{Segment: "ST", Position: 1, Element: 2, SetCode: "7", Problem: "control number missing"})
	case s.ID != "850":
		p.violate(Violation{Segment: "ST", Position: 1, Element: 1, Value: s.ID, SetCode: "1",
			Problem: fmt.Sprintf("transaction set %q is not supported; only 850 is", s.ID)})
	default:
		s.Order = p.map850(body, len(segs))
	}
	s.finish()
	return s
}

// finish sums the violations up in Err.
func (s *Set) finish() {
	if len(s.Violations) == 0 {
		return
	}
	e := &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Fields: map[string]string{}}
	for _, v := range s.Violations {
		if v.Code == ordergate.EINVALID {
			e.Code = ordergate.EINVALID
		}
		key := v.Field(s.Ordinal)
		if prev, ok := e.Fields[key]; ok {
			e.Fields[key] = prev + "; " + v.Problem
		} else {
			e.Fields[key] = v.Problem
		}
	}
	first := s.Violations[0]
	e.Message = fmt.Sprintf("edi850: transaction set %d (control number %q) rejected: %s: %s",
		s.Ordinal, s.ControlNumber, first.Field(s.Ordinal), first.Problem)
	if len(s.Violations) > 1 {
		e.Message += fmt.Sprintf(" (and %d more)", len(s.Violations)-1)
	}
	s.Err = e
	s.Order = order.Order{}
}

// map850 reads the body of an 850 set (between ST and SE); setLen is the
// set's segment count including ST and SE, used to place violations about
// missing segments.
func (p *setParser) map850(body []segment, setLen int) order.Order {
	o := order.Order{Channel: order.ChannelEDI850, Status: order.StatusReceived, Warnings: []order.Warning{}}
	var (
		begSeen   bool
		currency  string
		buyer     string
		party     *order.Address // address of the open header N1 loop, nil if none
		partyName *string        // where N102 of the open loop goes
		lines     []line850
		ctt       *segment
		cttPos    int
		amt       *segment
		amtPos    int
		charges   bool
		scratch   order.Address
	)
	for i, s := range body {
		pos := i + 2 // ST is 1
		detail := len(lines) > 0
		switch s.id() {
		case "BEG":
			if begSeen {
				p.violate(Violation{Segment: "BEG", Position: pos, SegmentCode: segTooMany, Problem: "second BEG segment"})
				continue
			}
			begSeen = true
			if pos != 2 {
				p.violate(Violation{Segment: "BEG", Position: pos, SegmentCode: segOutOfOrder, Problem: "BEG must directly follow ST"})
			}
			p.readBEG(s, pos, &o)
		case "CUR":
			if detail {
				continue
			}
			currency = s.el(2)
			if _, ok := order.MinorDigits(currency); !ok {
				p.elementProblem(s, pos, 2, ordergate.EINVALID, elemInvalidCode, fmt.Sprintf("unknown currency %q", currency))
			}
		case "PER":
			if detail {
				continue
			}
			for q := 3; q+1 < len(s.elems); q += 2 {
				switch s.el(q) {
				case "TE":
					if o.Customer.Phone == "" {
						o.Customer.Phone = s.el(q + 1)
					}
				case "EM":
					if o.Customer.Email == "" {
						o.Customer.Email = s.el(q + 1)
					}
				}
			}
		case "DTM":
			if detail || s.el(1) != "002" {
				continue
			}
			d, err := time.Parse("20060102", s.el(2))
			if err != nil || len(s.el(2)) != 8 {
				p.elementProblem(s, pos, 2, ordergate.EINVALID, elemInvalidDate, "requested delivery date is not CCYYMMDD")
				continue
			}
			o.Terms.RequestedDelivery = d.Format(time.DateOnly)
		case "ITD":
			if !detail && o.Terms.PaymentTerms == "" {
				o.Terms.PaymentTerms = paymentTerms(s)
			}
		case "N1":
			party, partyName = &scratch, nil
			if detail {
				continue // line-level parties are not part of the canonical order
			}
			switch s.el(1) {
			case "ST":
				party = &o.ShippingAddress
			case "BT":
				party = &o.BillingAddress
			case "BY":
				partyName = &buyer
			}
			if partyName == nil {
				party.Name = s.el(2)
			} else {
				*partyName = s.el(2)
			}
		case "N2":
			if party != nil && party.Company == "" {
				party.Company = s.el(1)
			}
		case "N3":
			if party != nil {
				party.Line1, party.Line2 = s.el(1), s.el(2)
			}
		case "N4":
			if party != nil {
				party.City, party.Region, party.PostalCode, party.Country = s.el(1), s.el(2), s.el(3), s.el(4)
			}
		case "PO1":
			party = nil
			lines = append(lines, p.readPO1(s, pos))
		case "PID":
			if n := len(lines); n > 0 && lines[n-1].title == "" && s.el(1) == "F" {
				lines[n-1].title = s.el(5)
			}
		case "CTT":
			ctt, cttPos = &body[i], pos
		case "AMT":
			if s.el(1) == "1" {
				amt, amtPos = &body[i], pos
			}
		case "SAC", "TXI":
			charges = true
		}
	}
	if !begSeen {
		p.violate(Violation{Segment: "BEG", Position: 2, SegmentCode: segMissing, Problem: "BEG segment missing"})
	}
	if len(lines) == 0 {
		p.violate(Violation{Segment: "PO1", Position: setLen, SegmentCode: segMissing, Problem: "no PO1 line items"})
	}
	if ctt != nil {
		p.checkCTT(*ctt, cttPos, lines)
	}
	if currency == "" {
		currency = p.opts.DefaultCurrency
		if _, ok := order.MinorDigits(currency); !ok {
			p.violate(Violation{Segment: "CUR", Position: 3, Code: ordergate.EUNPROCESSABLE,
				Problem: fmt.Sprintf("no CUR segment and no usable default currency (%q)", currency)})
			return o
		}
	} else if _, ok := order.MinorDigits(currency); !ok {
		return o
	}
	o.Currency = currency
	o.Customer.Name = buyer
	if o.Customer.Name == "" {
		o.Customer.Name = o.BillingAddress.Name
	}
	var uoms []string
	complete := true // every line converted, so the sum can be checked
	for n, l := range lines {
		line, ok := p.convertLine(l, currency)
		if !ok {
			complete = false
			continue
		}
		if l.uom != "" && l.uom != "EA" {
			uoms = append(uoms, fmt.Sprintf("line %d in %s", n+1, l.uom))
		}
		if o.Subtotal > math.MaxInt64-line.Total {
			p.elementProblem(l.seg, l.pos, 4, ordergate.EUNPROCESSABLE, "", "order total is too large")
			return o
		}
		o.Subtotal += line.Total
		o.Lines = append(o.Lines, line)
	}
	o.Total = o.Subtotal
	if amt != nil && complete {
		a, err := order.ParseAmount(amt.el(2), currency)
		switch {
		case err != nil:
			p.elementProblem(*amt, amtPos, 2, ordergate.EINVALID, elemInvalidChar, "not a decimal amount")
		case a != o.Subtotal:
			p.elementProblem(*amt, amtPos, 2, ordergate.EUNPROCESSABLE, "",
				fmt.Sprintf("line item total %s does not match the sum of the lines %s",
					order.FormatAmount(a, currency), order.FormatAmount(o.Subtotal, currency)))
		}
	}
	if amb := ambiguousSKUs(lines); len(amb) > 0 {
		o.Warnings = append(o.Warnings, order.Warning{Code: WarnSKUAmbiguous,
			Message: "lines with different product IDs share a SKU: " + strings.Join(amb, ", ")})
	}
	if len(uoms) > 0 {
		o.Warnings = append(o.Warnings, order.Warning{Code: WarnUnitOfMeasure,
			Message: "quantities are not in each (EA): " + strings.Join(uoms, ", ")})
	}
	if charges {
		o.Warnings = append(o.Warnings, order.Warning{Code: WarnChargesNotMapped,
			Message: "the set has SAC or TXI allowances, charges or taxes; they are not in the order totals"})
	}
	return o
}

// ambiguousSKUs returns, once each, the SKUs chosen for lines whose
// product IDs differ.
func ambiguousSKUs(lines []line850) []string {
	seen := map[string]string{}
	var out []string
	for _, l := range lines {
		ids, ok := seen[l.sku]
		switch {
		case !ok:
			seen[l.sku] = l.ids
		case ids != l.ids && !slices.Contains(out, l.sku):
			out = append(out, l.sku)
		}
	}
	return out
}

// readBEG maps the beginning segment: purpose, PO number, release, date.
func (p *setParser) readBEG(s segment, pos int, o *order.Order) {
	if s.el(1) == "01" {
		p.elementProblem(s, pos, 1, ordergate.EUNPROCESSABLE, elemInvalidCode,
			"purpose 01 (cancellation) is not an order; cancellations are not taken in")
	}
	po := s.el(3)
	if po == "" {
		p.elementProblem(s, pos, 3, ordergate.EINVALID, elemMissing, "purchase order number missing")
	}
	o.Number, o.ExternalID, o.Terms.PONumber = po, po, po
	if rel := s.el(4); rel != "" {
		o.ExternalID = po + "/" + rel
	}
	date := s.el(5)
	switch d, err := time.Parse("20060102", date); {
	case date == "":
		p.elementProblem(s, pos, 5, ordergate.EINVALID, elemMissing, "purchase order date missing")
	case err != nil || len(date) != 8:
		p.elementProblem(s, pos, 5, ordergate.EINVALID, elemInvalidDate, "purchase order date is not CCYYMMDD")
	default:
		o.PlacedAt = d
	}
}

// readPO1 reads quantity, unit, price and product IDs of a line; the price
// is converted later, once the currency is known.
func (p *setParser) readPO1(s segment, pos int) line850 {
	l := line850{seg: s, pos: pos, uom: s.el(3), price: s.el(4)}
	switch q, ok := parseWhole(s.el(2)); {
	case s.el(2) == "":
		p.elementProblem(s, pos, 2, ordergate.EINVALID, elemMissing, "quantity missing")
	case !ok:
		p.elementProblem(s, pos, 2, ordergate.EINVALID, elemInvalidChar, "quantity is not a whole number")
	case q <= 0:
		p.elementProblem(s, pos, 2, ordergate.EUNPROCESSABLE, elemInvalidChar, "quantity must be positive")
	default:
		l.qty = q
	}
	ids := map[string]string{}
	for q := 6; q+1 < len(s.elems); q += 2 {
		if k, v := s.el(q), s.el(q+1); k != "" && v != "" {
			if _, seen := ids[k]; !seen {
				ids[k] = v
			}
		}
	}
	keys := make([]string, 0, len(ids))
	for k, v := range ids {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	l.ids = strings.Join(keys, " ")
	pref := p.opts.ProductIDPreference
	if pref == nil {
		pref = DefaultProductIDPreference
	}
	for _, k := range pref {
		if v := ids[k]; v != "" {
			l.sku = v
			break
		}
	}
	if l.sku == "" {
		p.violate(Violation{Segment: "PO1", Position: pos, Element: 7, Code: ordergate.EUNPROCESSABLE,
			Problem: fmt.Sprintf("no product ID with a qualifier in %v", pref)})
	}
	l.pd = ids["PD"]
	return l
}

// convertLine converts a line's price in currency; ok is false when the
// line has a violation.
func (p *setParser) convertLine(l line850, currency string) (order.Line, bool) {
	if l.qty <= 0 {
		return order.Line{}, false
	}
	if l.price == "" {
		p.elementProblem(l.seg, l.pos, 4, ordergate.EUNPROCESSABLE, elemMissing,
			"unit price missing; EDI lines without a price are rejected")
		return order.Line{}, false
	}
	price, err := order.ParseAmount(l.price, currency)
	switch {
	case errors.Is(err, order.ErrSubMinorPrecision):
		p.elementProblem(l.seg, l.pos, 4, ordergate.EUNPROCESSABLE, elemInvalidChar,
			fmt.Sprintf("unit price has more decimals than %s allows", currency))
		return order.Line{}, false
	case err != nil:
		p.elementProblem(l.seg, l.pos, 4, ordergate.EINVALID, elemInvalidChar, "unit price is not a decimal number")
		return order.Line{}, false
	case price < 0:
		p.elementProblem(l.seg, l.pos, 4, ordergate.EUNPROCESSABLE, elemInvalidChar, "unit price is negative")
		return order.Line{}, false
	case price > 0 && l.qty > math.MaxInt64/price:
		p.elementProblem(l.seg, l.pos, 4, ordergate.EUNPROCESSABLE, "", "line total is too large")
		return order.Line{}, false
	}
	title := l.title
	if title == "" {
		title = l.pd
	}
	return order.Line{SKU: l.sku, Title: title, Quantity: l.qty, UnitPrice: price, Total: l.qty * price}, true
}

// checkCTT compares the transaction totals with the lines: CTT01 is the
// number of PO1 segments, CTT02 (optional) the sum of their quantities.
func (p *setParser) checkCTT(s segment, pos int, lines []line850) {
	n, ok := parseWhole(s.el(1))
	switch {
	case !ok:
		p.elementProblem(s, pos, 1, ordergate.EINVALID, elemInvalidChar, "line count is not a whole number")
	case n != int64(len(lines)):
		p.elementProblem(s, pos, 1, ordergate.EUNPROCESSABLE, "",
			fmt.Sprintf("line count %d does not match the %d PO1 segments", n, len(lines)))
	}
	if s.el(2) == "" {
		return
	}
	var sum int64
	for _, l := range lines {
		if sum > math.MaxInt64-l.qty {
			return
		}
		sum += l.qty
	}
	switch h, ok := parseWhole(s.el(2)); {
	case !ok:
		p.elementProblem(s, pos, 2, ordergate.EINVALID, elemInvalidChar, "hash total is not a whole number")
	case h != sum:
		p.elementProblem(s, pos, 2, ordergate.EUNPROCESSABLE, "",
			fmt.Sprintf("hash total %d does not match the sum of quantities %d", h, sum))
	}
}

// paymentTerms renders ITD as text: its description (ITD12) when given,
// else trade notation such as "2/10 Net 30" from the discount percent
// (ITD03), discount days (ITD05) and net days (ITD07).
func paymentTerms(s segment) string {
	if d := s.el(12); d != "" {
		return d
	}
	var parts []string
	if pct, days := s.el(3), s.el(5); pct != "" && days != "" {
		parts = append(parts, pct+"/"+days)
	}
	if net := s.el(7); net != "" {
		parts = append(parts, "Net "+net)
	}
	return strings.Join(parts, " ")
}

// parseWhole parses an X12 numeric that must be a whole number: digits
// with an optional sign and an optional all-zero fraction ("12", "12.00",
// "000001").
func parseWhole(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Trim(frac, "0") != "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(whole); i++ {
		c := whole[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}
