package amazon

// The helpers in this file are the same in each channel package under
// internal/intake (shopify, woocommerce, amazon); only the package clause
// differs. They turn encoding/json errors into *ordergate.Error values that
// name the JSON path at fault, and convert channel scalars into canonical
// values while collecting every problem by path.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// number is a JSON number or a string holding one, kept as its text so that
// no value ever passes through float64. null leaves it unset. Any other
// JSON value is remembered by kind and reported by the converter, which
// knows the path.
type number struct {
	text string
	set  bool
	kind string // "bool", "object" or "array" when the value is not a number or string
}

// UnmarshalJSON implements json.Unmarshaler. It never fails, so decoding
// goes on and the converter reports a wrong kind with its path.
func (n *number) UnmarshalJSON(b []byte) error {
	*n = number{}
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n':
	case 't', 'f':
		n.kind = "bool"
	case '{':
		n.kind = "object"
	case '[':
		n.kind = "array"
	case '"':
		n.set = true
		if bytes.IndexByte(b, '\\') < 0 {
			n.text = string(b[1 : len(b)-1])
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			n.kind = "string"
			return nil
		}
		n.text = s
	default:
		n.set = true
		n.text = string(b)
	}
	return nil
}

// fieldErrors collects problems by JSON path while a payload is converted.
type fieldErrors struct {
	fields map[string]string
	first  string
}

// add records problem at path; the first problem at a path wins.
func (fe *fieldErrors) add(path, problem string) {
	if fe.fields == nil {
		fe.fields = make(map[string]string)
		fe.first = path + ": " + problem
	}
	if _, ok := fe.fields[path]; !ok {
		fe.fields[path] = problem
	}
}

// err returns the collected problems as an EUNPROCESSABLE error, or nil.
func (fe *fieldErrors) err() error {
	if fe.fields == nil {
		return nil
	}
	msg := fe.first
	if n := len(fe.fields); n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: msg, Fields: fe.fields}
}

// amount converts n, an amount in currency, to minor units. An unset n is
// zero. Problems are recorded at path.
func (fe *fieldErrors) amount(n number, currency, path string) int64 {
	if !fe.isNumber(n, path) {
		return 0
	}
	v, err := order.ParseAmount(n.text, currency)
	if err != nil {
		switch {
		case errors.Is(err, order.ErrSubMinorPrecision):
			d, _ := order.MinorDigits(currency)
			fe.add(path, fmt.Sprintf("amount %s has more decimals than %s allows (%d)", quote(n.text), currency, d))
		case errors.Is(err, order.ErrUnknownCurrency):
			// The currency itself is reported where it is read.
		default:
			fe.add(path, "not a decimal amount: "+quote(n.text))
		}
		return 0
	}
	return v
}

// times returns a×b, recording a problem at path when it does not fit in
// int64 minor units.
func (fe *fieldErrors) times(a, b int64, path string) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		fe.add(path, "amount too large")
		return 0
	}
	return p
}

// plus returns a+b, recording a problem at path when it does not fit in
// int64 minor units.
func (fe *fieldErrors) plus(a, b int64, path string) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		fe.add(path, "amount too large")
		return 0
	}
	return s
}

// minus returns a−b, recording a problem at path when it does not fit in
// int64 minor units.
func (fe *fieldErrors) minus(a, b int64, path string) int64 {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		fe.add(path, "amount too large")
		return 0
	}
	return d
}

// integer converts n, which must be a whole number, to int64. An unset n
// is zero. Problems are recorded at path.
func (fe *fieldErrors) integer(n number, path string) int64 {
	if !fe.isNumber(n, path) {
		return 0
	}
	v, err := strconv.ParseInt(n.text, 10, 64)
	if err != nil {
		fe.add(path, "not a whole number: "+quote(n.text))
		return 0
	}
	return v
}

// id returns n as an identifier: the text of a number or of a string.
func (fe *fieldErrors) id(n number, path string) string {
	if !fe.isNumber(n, path) {
		return ""
	}
	return n.text
}

// isNumber reports whether n holds a value, recording a wrong kind.
func (fe *fieldErrors) isNumber(n number, path string) bool {
	if n.kind != "" {
		fe.add(path, "must be a number or a string, not "+n.kind)
		return false
	}
	return n.set
}

// time parses s, an RFC 3339 time or, when layout is given, a time in that
// layout taken as UTC, and returns it in UTC. An empty s is the zero time.
func (fe *fieldErrors) time(s, layout, path string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil && layout != "" {
		t, err = time.Parse(layout, s)
	}
	if err != nil {
		fe.add(path, "not a date-time: "+quote(s))
		return time.Time{}
	}
	return t.UTC()
}

// currency checks that code is a known ISO 4217 currency, recording a
// problem at path when it is missing or unknown.
func (fe *fieldErrors) currency(code, path string) bool {
	if code == "" {
		fe.add(path, "required")
		return false
	}
	if _, ok := order.MinorDigits(code); !ok {
		fe.add(path, "unknown currency "+quote(code))
		return false
	}
	return true
}

// quote renders s for a message, cut short when long.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// decodeError turns an error from decoding data with encoding/json into an
// *ordergate.Error: EINVALID with the byte offset, line, column and path
// for malformed JSON, EUNPROCESSABLE with the path for a value of the
// wrong type. prefix is prepended to paths when data is part of a larger
// body.
func decodeError(data []byte, prefix string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineColumn(data, syn.Offset)
		msg := fmt.Sprintf("malformed JSON after byte %d (line %d, column %d): %s", syn.Offset, line, col, strings.TrimPrefix(syn.Error(), "json: "))
		e := &ordergate.Error{
			Code:    ordergate.EINVALID,
			Message: msg,
			Details: map[string]any{"offset": syn.Offset, "line": line, "column": col},
		}
		if p := joinPath(prefix, pathAt(data, math.MaxInt64)); p != "" {
			e.Message = p + ": " + msg
			e.Fields = map[string]string{p: msg}
		}
		return e
	case errors.As(err, &typ):
		p := joinPath(prefix, pathAt(data, typ.Offset))
		if p == "" {
			p = joinPath(prefix, typ.Field)
		}
		if p == "" {
			p = "$"
		}
		problem := "must be " + kindOf(typ.Type.String()) + ", not " + typ.Value
		return &ordergate.Error{
			Code:    ordergate.EUNPROCESSABLE,
			Message: p + ": " + problem,
			Fields:  map[string]string{p: problem},
		}
	}
	return &ordergate.Error{Code: ordergate.EINVALID, Message: "cannot decode JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// kindOf names the JSON kind a Go type decodes from.
func kindOf(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	default:
		return "an object"
	}
}

// lineColumn returns the 1-based line and column of the last byte read
// when a decoder stopped after reading off bytes of data.
func lineColumn(data []byte, off int64) (line, col int) {
	i := min(max(off-1, 0), int64(len(data)))
	before := data[:i]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(i) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// pathAt returns the JSON path of the value that ends at or contains byte
// offset off of data, such as `order.line_items[1].quantity`, or the path
// where data stops being valid JSON when that comes first. It is slow and
// meant for error reports only.
func pathAt(data []byte, off int64) string {
	type frame struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.array:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			case !f.wantKey:
				b.WriteString(pathKey(f.key, b.Len() == 0))
			}
		}
		return b.String()
	}
	next := func() { // the current value of the top frame is done
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.array {
			top.index++
		} else {
			top.wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return path()
		}
		end := dec.InputOffset()
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if end >= off {
				return path()
			}
			stack = append(stack, frame{array: tok == json.Delim('['), wantKey: tok == json.Delim('{')})
		case json.Delim('}'), json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			next()
		default:
			if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
				s, _ := tok.(string)
				stack[n-1].key, stack[n-1].wantKey = s, false
				continue
			}
			if end >= off {
				return path()
			}
			next()
		}
	}
}

// pathKey renders an object key as a path step: `.name` (or `name` at the
// start) for plain names, `["odd key"]` otherwise.
func pathKey(k string, first bool) string {
	plain := k != ""
	for i, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	switch {
	case plain && first:
		return k
	case plain:
		return "." + k
	}
	return "[" + quote(k) + "]"
}

// joinPath joins a path prefix and a path relative to it.
func joinPath(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	case rel[0] == '[':
		return prefix + rel
	}
	return prefix + "." + rel
}

// unmarshal decodes data into v with encoding/json.
func unmarshal(data []byte, v any) error {
	return json.Unmarshal(data, v)
}

// firstByte returns the first byte of data that is not JSON white space,
// or 0.
func firstByte(data []byte) byte {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}
