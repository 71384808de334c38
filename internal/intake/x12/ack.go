package x12

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// AckOptions configures Ack. Control numbers are the acknowledging
// side's own counters; the caller keeps them.
type AckOptions struct {
	// ControlNumber is ISA13 of the acknowledgment (1–999999999; other
	// values are reduced into that range).
	ControlNumber int
	// GroupControlNumber is GS06 of the first acknowledgment group; each
	// further group adds one.
	GroupControlNumber int
	// Now is written into ISA09/ISA10 and GS04/GS05.
	Now time.Time
}

// Ack writes a 997 functional acknowledgment for ic with the same
// separators, the ISA and GS sender and receiver swapped, and the same
// usage indicator (a test interchange is answered with a test
// interchange). Each functional group of ic gets its own FA group with one
// 997 set: AK1 names the group, AK2/AK5 each transaction set (A accepted or
// R rejected, with AK3/AK4 for every located violation), and AK9 sums the
// group up (A, E accepted with envelope errors, P partially accepted, R).
func Ack(ic *Interchange, opts AckOptions) []byte {
	w := &ackWriter{sep: ic.Separators}
	ctl := controlNumber(opts.ControlNumber, 999999999)
	w.seg("ISA", "00", pad("", 10), "00", pad("", 10),
		pad(orDefault(ic.ReceiverQualifier, "ZZ"), 2), pad(ic.ReceiverID, 15),
		pad(orDefault(ic.SenderQualifier, "ZZ"), 2), pad(ic.SenderID, 15),
		opts.Now.Format("060102"), opts.Now.Format("1504"),
		orDefault(ic.Standards, "U"), orDefault(ic.Version, "00401"),
		fmt.Sprintf("%09d", ctl), "0", orDefault(ic.Usage, "P"), string(ic.Separators.Component))
	for gi := range ic.Groups {
		g := &ic.Groups[gi]
		gs := strconv.Itoa(controlNumber(opts.GroupControlNumber+gi, 999999999))
		w.seg("GS", "FA", g.Receiver, g.Sender, opts.Now.Format("20060102"), opts.Now.Format("1504"), gs, "X", "004010")
		w.count = 0
		w.seg("ST", "997", "0001")
		w.seg("AK1", g.FunctionalID, g.ControlNumber)
		accepted := 0
		for si := range g.Sets {
			s := &g.Sets[si]
			w.seg("AK2", s.ID, s.ControlNumber)
			var codes []string
			for _, v := range s.Violations {
				if v.SetCode != "" {
					codes = appendCode(codes, v.SetCode)
					continue
				}
				codes = appendCode(codes, "5")
				w.seg("AK3", v.Segment, strconv.Itoa(v.Position), "", v.SegmentCode)
				if v.Element > 0 && v.ElementCode != "" {
					w.seg("AK4", strconv.Itoa(v.Element), "", v.ElementCode, truncateBytes(v.Value, 99))
				}
			}
			if s.Accepted() {
				accepted++
				w.seg("AK5", "A")
			} else {
				w.seg(append([]string{"AK5", "R"}, codes...)...)
			}
		}
		status := "R"
		switch {
		case accepted == len(g.Sets) && accepted > 0 && len(g.AckCodes) == 0:
			status = "A"
		case accepted == len(g.Sets) && accepted > 0:
			status = "E"
		case accepted > 0:
			status = "P"
		}
		included := len(g.Sets)
		if g.declaredOK {
			included = g.declaredSets
		}
		ak9 := []string{"AK9", status, strconv.Itoa(included), strconv.Itoa(len(g.Sets)), strconv.Itoa(accepted)}
		for i, c := range g.AckCodes {
			if i == 5 {
				break
			}
			ak9 = append(ak9, c)
		}
		w.seg(ak9...)
		w.seg("SE", strconv.Itoa(w.count+1), "0001")
		w.seg("GE", "1", gs)
	}
	w.seg("IEA", strconv.Itoa(len(ic.Groups)), fmt.Sprintf("%09d", ctl))
	return w.buf.Bytes()
}

// ackWriter writes segments and counts them for SE01.
type ackWriter struct {
	sep   Separators
	buf   bytes.Buffer
	count int
}

func (w *ackWriter) seg(elems ...string) {
	// Trailing empty elements are dropped, as X12 requires.
	for len(elems) > 1 && elems[len(elems)-1] == "" {
		elems = elems[:len(elems)-1]
	}
	for i, e := range elems {
		if i > 0 {
			w.buf.WriteByte(w.sep.Element)
		}
		w.buf.WriteString(e)
	}
	w.buf.WriteByte(w.sep.Segment)
	if w.sep.LineBreak {
		w.buf.WriteByte('\n')
	}
	w.count++
}

// appendCode adds an AK5 error code once, keeping at most five.
func appendCode(codes []string, c string) []string {
	for _, have := range codes {
		if have == c {
			return codes
		}
	}
	if len(codes) == 5 {
		return codes
	}
	return append(codes, c)
}

// controlNumber reduces n into 1..max.
func controlNumber(n, max int) int {
	n %= max + 1
	if n <= 0 {
		n += max
	}
	if n <= 0 {
		n = 1
	}
	return n
}

// pad left-aligns s in a field of n bytes, cutting it if longer.
func pad(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + string(bytes.Repeat([]byte{' '}, n-len(s)))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func truncateBytes(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
