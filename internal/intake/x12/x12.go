// Package x12 reads ANSI ASC X12 850 purchase orders (version 004010) into
// canonical orders and writes the 997 functional acknowledgment that
// answers them. It is a pure parser: bytes in, values out, no I/O.
//
// Parse reads one interchange (ISA … IEA). The separators come from the ISA
// header: the element separator is the byte after "ISA", the component
// separator is ISA16 and the segment terminator is the byte after ISA16. A
// UTF-8 byte order mark, line breaks and indentation around segments are
// tolerated, and so are non-ASCII padding characters inside ISA fields
// (ISA is found by counting element separators, not by fixed offsets).
//
// Every transaction set is judged on its own. An 850 set that keeps every
// rule becomes one order.Order with Channel "edi850"; a set that breaks one
// is rejected as a whole, with every problem found listed as a Violation
// (segment, position in the set, element) and summed up in an
// *ordergate.Error. EDI orders are not repaired: a partner's order that
// does not add up is refused in the 997 and must be sent again.
//
// How an 850 maps to order.Order (header segments are those before the
// first PO1; the same segments inside a PO1 loop are line details and are
// not mapped):
//
//	BEG03        Number, Terms.PONumber, ExternalID (with "/BEG04" when a release number is given)
//	BEG05        PlacedAt (CCYYMMDD, UTC midnight); BEG01 = "01" (cancellation) is rejected
//	CUR02        Currency; without CUR, Options.DefaultCurrency
//	PER          Customer.Phone (TE) and Customer.Email (EM), first of each
//	DTM*002      Terms.RequestedDelivery (YYYY-MM-DD); other DTM qualifiers are not mapped
//	ITD          Terms.PaymentTerms: ITD12 text, else "2/10 Net 30" from ITD03, ITD05, ITD07
//	N1*ST loop   ShippingAddress (N102 name, N201 company, N3 lines, N4 city/region/postal code/country)
//	N1*BT loop   BillingAddress
//	N1*BY        Customer.Name; when absent, the bill-to name
//	PO1          a Line: PO102 quantity (a whole number above zero), PO104 unit price
//	             (required), SKU from the product ID pairs PO106/PO107… by
//	             Options.ProductIDPreference
//	PID*F        Line.Title (PID05); without PID, the PO1 "PD" product ID
//	CTT          checked: CTT01 = number of PO1, CTT02 (if given) = Σ PO102
//	AMT*1        checked: = Σ quantity × unit price
//
// A PO1 without a unit price rejects its set with EUNPROCESSABLE: pricing
// an EDI line from a catalogue would be a guess the partner never agreed
// to, so the 997 refuses the set and the partner resends it priced.
//
// REF, FOB, TD5, N9, MSG, PO4 and other segments are read past. SAC and TXI
// (allowances, charges, taxes) are not mapped either, and their presence
// adds the warning "edi.charges_not_mapped". Subtotal and Total are the sum
// of the lines.
//
// Problems with the interchange or group envelope that do not touch an
// order's content (ISA13 ≠ IEA02, a GE count that is off, a missing
// trailer) do not reject the sets; they become warnings on every order of
// the envelope so that a person looks at them. A test interchange
// (ISA15 = "T") gives the warning "edi.test_interchange".
package x12

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// Warning codes added to orders for envelope findings.
const (
	WarnTestInterchange       = "edi.test_interchange"
	WarnControlNumberMismatch = "edi.control_number_mismatch"
	WarnTrailerMissing        = "edi.trailer_missing"
	WarnGroupCountMismatch    = "edi.group_count_mismatch"
	WarnChargesNotMapped      = "edi.charges_not_mapped"
)

// Options configures Parse.
type Options struct {
	// DefaultCurrency is the ISO 4217 code used for a set without a CUR
	// segment. When it is empty such a set is rejected.
	DefaultCurrency string
	// ProductIDPreference lists PO1 product ID qualifiers in the order in
	// which they are tried for Line.SKU. Nil means DefaultProductIDPreference.
	ProductIDPreference []string
}

// DefaultProductIDPreference is the order in which PO1 product ID
// qualifiers are tried for a line's SKU: the seller's own stock keeping
// unit first (SK), then the vendor's item number (VN, the vendor being the
// seller that receives the PO), the buyer's part number (BP), the UPC
// (UP), the buyer's item number (IN), the EAN (EN) and the buyer's catalog
// number (CB). The first non-empty one wins.
var DefaultProductIDPreference = []string{"SK", "VN", "BP", "UP", "IN", "EN", "CB"}

// Separators are the delimiters of an interchange, read from its ISA.
type Separators struct {
	Element   byte
	Component byte
	Segment   byte
	// LineBreak reports whether segment terminators were followed by a
	// line break in the input; Ack then writes one too.
	LineBreak bool
}

// Interchange is one parsed ISA … IEA envelope.
type Interchange struct {
	Separators        Separators
	SenderQualifier   string // ISA05
	SenderID          string // ISA06, padding removed
	ReceiverQualifier string // ISA07
	ReceiverID        string // ISA08, padding removed
	Standards         string // ISA11
	Version           string // ISA12
	ControlNumber     string // ISA13
	Usage             string // ISA15: "P" production, "T" test
	Groups            []Group
	// Warnings are the envelope findings; they are also on every order.
	Warnings []order.Warning
}

// Group is one functional group (GS … GE).
type Group struct {
	FunctionalID  string // GS01, "PO" for purchase orders
	Sender        string // GS02
	Receiver      string // GS03
	ControlNumber string // GS06
	Version       string // GS08
	Sets          []Set
	// AckCodes are the AK905… codes for problems with the group trailer:
	// "3" trailer missing, "4" control numbers differ, "5" set count wrong.
	AckCodes []string

	declaredSets int  // GE01, when readable
	declaredOK   bool // whether declaredSets was read
}

// Set is one transaction set (ST … SE) and what became of it.
type Set struct {
	// Ordinal is the 1-based position of the set in the interchange,
	// counted across groups; it is the n in the "ST[n]" of error fields.
	Ordinal       int
	ID            string // ST01
	ControlNumber string // ST02
	// Order is the canonical order; it is only meaningful when Err is nil.
	Order order.Order
	// Violations lists every problem found; empty when the set is accepted.
	Violations []Violation
	// Err is an *ordergate.Error (EINVALID or EUNPROCESSABLE) summing up
	// Violations, with Fields keyed like "ST[2].PO1[14].PO104"; nil when
	// the set is accepted.
	Err error
}

// Accepted reports whether the set became an order.
func (s *Set) Accepted() bool { return s.Err == nil }

// Violation is one problem in a transaction set, located precisely enough
// to be reported in a 997 (AK3/AK4) and shown to a person.
type Violation struct {
	Segment  string // segment ID, e.g. "PO1"
	Position int    // 1-based position of the segment in the set; ST is 1
	Element  int    // 1-based element position; 0 for the segment as a whole
	Problem  string // what is wrong, for people
	Value    string // the offending element value, if any
	// SegmentCode is the AK304 segment syntax error code, if one applies.
	SegmentCode string
	// ElementCode is the AK403 element syntax error code, if one applies.
	ElementCode string
	// SetCode is the AK502 code when the problem concerns the set as a
	// whole (trailer, control number, segment count); such a violation
	// gives no AK3.
	SetCode string
	// Code is ordergate.EINVALID for malformed input and
	// ordergate.EUNPROCESSABLE for well-formed input that breaks a rule.
	Code string
}

// Field returns the violation's error field key within set ordinal n, e.g.
// "ST[2].PO1[14].PO104".
func (v Violation) Field(n int) string {
	key := fmt.Sprintf("ST[%d].%s[%d]", n, v.Segment, v.Position)
	if v.Element > 0 {
		key += fmt.Sprintf(".%s%02d", v.Segment, v.Element)
	}
	return key
}

// Orders returns the orders of every accepted set, in input order.
func (ic *Interchange) Orders() []order.Order {
	var out []order.Order
	for _, g := range ic.Groups {
		for _, s := range g.Sets {
			if s.Accepted() {
				out = append(out, s.Order)
			}
		}
	}
	return out
}

// segment is one segment split into elements; elems[0] is the segment ID.
type segment struct {
	elems []string
	pos   int // 1-based position in the interchange; ISA is 1
}

func (s segment) id() string { return s.elems[0] }

// el returns element i (1-based) with surrounding spaces removed, or "".
func (s segment) el(i int) string {
	if i <= 0 || i >= len(s.elems) {
		return ""
	}
	return strings.TrimSpace(s.elems[i])
}

var bom = []byte("\xef\xbb\xbf")

// isaElements is the number of elements in an ISA segment.
const isaElements = 16

// maxISALength bounds the search for the ISA terminator; a fixed-width ISA
// is 106 bytes, padding in a multi-byte encoding may make it longer.
const maxISALength = 512

func invalid(format string, args ...any) *ordergate.Error {
	return ordergate.Errorf(ordergate.EINVALID, "edi850: "+format, args...)
}

// Parse reads one X12 interchange. It returns an *ordergate.Error with code
// EINVALID when the envelope cannot be read (no ISA, bad separators, a
// segment outside a group or set, data after IEA); problems inside a
// transaction set never fail Parse but reject that set (see Set.Err).
func Parse(body []byte, opts Options) (*Interchange, error) {
	body = bytes.TrimPrefix(body, bom)
	body = bytes.TrimLeft(body, " \t\r\n")
	if !bytes.HasPrefix(body, []byte("ISA")) || len(body) < 4 {
		return nil, invalid("segment 1: interchange does not start with ISA")
	}
	sep := Separators{Element: body[3]}
	if !isDelimiter(sep.Element) {
		return nil, invalid("segment 1 (ISA): element separator %q is not a delimiter", sep.Element)
	}
	// Find the 16th element separator; ISA16 and the terminator follow it.
	n, end := 0, -1
	for i := 3; i < len(body) && i < maxISALength; i++ {
		if body[i] == sep.Element {
			n++
			if n == isaElements {
				end = i
				break
			}
		}
	}
	if end < 0 || end+2 >= len(body) {
		return nil, invalid("segment 1 (ISA): header is incomplete (want 16 elements and a terminator)")
	}
	sep.Component, sep.Segment = body[end+1], body[end+2]
	if !isDelimiter(sep.Component) || !isDelimiter(sep.Segment) && sep.Segment != '\n' && sep.Segment != '\r' ||
		sep.Component == sep.Element || sep.Segment == sep.Element || sep.Segment == sep.Component {
		return nil, invalid("segment 1 (ISA): ISA16 %q and terminator %q are not distinct delimiters", sep.Component, sep.Segment)
	}
	if bytes.IndexByte(body[:end+1], sep.Segment) >= 0 {
		return nil, invalid("segment 1 (ISA): a header field contains the segment terminator %q", sep.Segment)
	}
	isa := strings.Split(string(body[:end+2]), string(sep.Element))
	ic := &Interchange{
		Separators:        sep,
		SenderQualifier:   strings.TrimSpace(isa[5]),
		SenderID:          trimPadding(isa[6]),
		ReceiverQualifier: strings.TrimSpace(isa[7]),
		ReceiverID:        trimPadding(isa[8]),
		Standards:         strings.TrimSpace(isa[11]),
		Version:           strings.TrimSpace(isa[12]),
		ControlNumber:     strings.TrimSpace(isa[13]),
		Usage:             strings.TrimSpace(isa[15]),
	}
	rest := body[end+3:]
	if len(rest) > 0 && (rest[0] == '\n' || rest[0] == '\r') && sep.Segment != '\n' {
		ic.Separators.LineBreak = true
	}
	segs, err := split(rest, sep)
	if err != nil {
		return nil, err
	}
	if ic.Usage == "T" {
		ic.Warnings = append(ic.Warnings, order.Warning{Code: WarnTestInterchange,
			Message: fmt.Sprintf("interchange %s is a test interchange (ISA15 = T)", ic.ControlNumber)})
	}
	if err := ic.read(segs, opts); err != nil {
		return nil, err
	}
	for gi := range ic.Groups {
		g := &ic.Groups[gi]
		for si := range g.Sets {
			s := &g.Sets[si]
			if !s.Accepted() {
				continue
			}
			for _, code := range g.AckCodes {
				s.Order.Warnings = append(s.Order.Warnings, groupWarning(g, code))
			}
			s.Order.Warnings = append(s.Order.Warnings, ic.Warnings...)
		}
	}
	return ic, nil
}

func groupWarning(g *Group, code string) order.Warning {
	switch code {
	case "3":
		return order.Warning{Code: WarnTrailerMissing, Message: fmt.Sprintf("group %s has no GE trailer", g.ControlNumber)}
	case "4":
		return order.Warning{Code: WarnControlNumberMismatch, Message: fmt.Sprintf("group %s: GE02 does not match GS06", g.ControlNumber)}
	default:
		return order.Warning{Code: WarnGroupCountMismatch, Message: fmt.Sprintf("group %s: GE01 does not match the number of sets", g.ControlNumber)}
	}
}

// isDelimiter reports whether b can serve as a separator: ASCII
// punctuation or a non-whitespace control character, never a letter,
// digit, space or line break. (A segment terminator may also be a line
// break; Parse allows that separately.)
func isDelimiter(b byte) bool {
	switch {
	case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9':
		return false
	case b == ' ', b == '\t', b == '\n', b == '\r', b == '\v', b == '\f', b >= 0x7f:
		return false
	}
	return true
}

// trimPadding removes the spaces (and non-breaking spaces some generators
// write) that pad fixed-width ISA fields.
func trimPadding(s string) string {
	return strings.Trim(s, " \u00a0\t")
}

// split cuts the bytes after ISA into segments. Whitespace around segments
// (line breaks, indentation) is dropped; empty segments are skipped.
func split(b []byte, sep Separators) ([]segment, error) {
	segs := []segment{}
	pos := 1 // ISA
	for len(b) > 0 {
		var raw []byte
		if i := bytes.IndexByte(b, sep.Segment); i >= 0 {
			raw, b = b[:i], b[i+1:]
		} else {
			raw, b = b, nil
		}
		raw = bytes.Trim(raw, " \t\r\n")
		if len(raw) == 0 {
			continue
		}
		pos++
		elems := strings.Split(string(raw), string(sep.Element))
		if !validID(elems[0]) {
			return nil, invalid("segment %d: %q is not a segment ID", pos, truncate(elems[0], 10))
		}
		segs = append(segs, segment{elems: elems, pos: pos})
	}
	return segs, nil
}

func validID(id string) bool {
	if len(id) < 2 || len(id) > 3 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// read walks the envelope structure and parses every set.
func (ic *Interchange) read(segs []segment, opts Options) error {
	var (
		group   *Group
		set     []segment // the open set's segments, ST first
		ordinal int
		ended   bool // IEA seen
	)
	closeSet := func(trailer bool) {
		if set == nil {
			return
		}
		ordinal++
		group.Sets = append(group.Sets, parseSet(set, trailer, ordinal, opts))
		set = nil
	}
	closeGroup := func(trailer bool) {
		if group == nil {
			return
		}
		closeSet(false)
		if !trailer {
			group.AckCodes = append(group.AckCodes, "3")
		}
		ic.Groups = append(ic.Groups, *group)
		group = nil
	}
	for _, s := range segs {
		if ended {
			return invalid("segment %d (%s): data after IEA", s.pos, s.id())
		}
		switch s.id() {
		case "ISA":
			return invalid("segment %d (ISA): a second interchange is not supported", s.pos)
		case "TA1":
			if group != nil {
				return invalid("segment %d (TA1): inside a functional group", s.pos)
			}
		case "GS":
			closeGroup(false)
			group = &Group{FunctionalID: s.el(1), Sender: s.el(2), Receiver: s.el(3),
				ControlNumber: s.el(6), Version: s.el(8)}
		case "GE":
			if group == nil {
				return invalid("segment %d (GE): no functional group is open", s.pos)
			}
			closeSet(false)
			if !sameNumber(s.el(2), group.ControlNumber) {
				group.AckCodes = append(group.AckCodes, "4")
			}
			n, err := strconv.Atoi(s.el(1))
			if err != nil || n != len(group.Sets) {
				group.AckCodes = append(group.AckCodes, "5")
			}
			if err == nil && n >= 0 {
				group.declaredSets, group.declaredOK = n, true
			}
			closeGroup(true)
		case "IEA":
			closeGroup(false)
			if !sameNumber(s.el(2), ic.ControlNumber) {
				ic.Warnings = append(ic.Warnings, order.Warning{Code: WarnControlNumberMismatch,
					Message: fmt.Sprintf("segment %d (IEA): IEA02 %q does not match ISA13 %q", s.pos, s.el(2), ic.ControlNumber)})
			}
			if n, err := strconv.Atoi(s.el(1)); err != nil || n != len(ic.Groups) {
				ic.Warnings = append(ic.Warnings, order.Warning{Code: WarnGroupCountMismatch,
					Message: fmt.Sprintf("segment %d (IEA): IEA01 %q does not match %d groups", s.pos, s.el(1), len(ic.Groups))})
			}
			ended = true
		case "ST":
			if group == nil {
				return invalid("segment %d (ST): outside a functional group", s.pos)
			}
			closeSet(false)
			set = []segment{s}
		case "SE":
			if set == nil {
				return invalid("segment %d (SE): no transaction set is open", s.pos)
			}
			set = append(set, s)
			closeSet(true)
		default:
			if set == nil {
				return invalid("segment %d (%s): outside a transaction set", s.pos, s.id())
			}
			set = append(set, s)
		}
	}
	if !ended {
		closeGroup(false)
		ic.Warnings = append(ic.Warnings, order.Warning{Code: WarnTrailerMissing,
			Message: fmt.Sprintf("interchange %s has no IEA trailer", ic.ControlNumber)})
	}
	return nil
}

// sameNumber compares two control numbers, ignoring leading zeros.
func sameNumber(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x == y
}
