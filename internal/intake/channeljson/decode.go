// Package channeljson is the shared decoding vocabulary of the JSON channel
// parsers under internal/intake (shopify, woocommerce, amazon).
//
// It turns encoding/json errors into *ordergate.Error values that name the
// JSON path at fault (DecodeError), keeps JSON numbers as their text so
// that no amount ever passes through float64 (Number), and converts channel
// scalars into canonical values while collecting every problem by path
// (FieldErrors). It knows nothing of any one channel's payload.
package channeljson

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

// Number is a JSON number or a string holding one, kept as its text so that
// no value ever passes through float64. null or a missing field leaves it
// unset. Any other JSON value is remembered by Kind and reported by the
// FieldErrors converters, which know the path.
type Number struct {
	// Text is the number's text, or the string's contents.
	Text string
	// Set reports whether the value was a number or a string.
	Set bool
	// Kind is "bool", "object" or "array" when the value was none of a
	// number, a string or null, and "string" for a string that could not
	// be decoded; it is empty otherwise.
	Kind string
}

// Present reports whether the payload gave n a value other than null, of
// any kind.
func (n Number) Present() bool {
	return n.Set || n.Kind != ""
}

// UnmarshalJSON implements json.Unmarshaler. It never fails, so decoding
// goes on and the converter reports a wrong kind with its path.
func (n *Number) UnmarshalJSON(b []byte) error {
	*n = Number{}
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n':
	case 't', 'f':
		n.Kind = "bool"
	case '{':
		n.Kind = "object"
	case '[':
		n.Kind = "array"
	case '"':
		n.Set = true
		if bytes.IndexByte(b, '\\') < 0 {
			n.Text = string(b[1 : len(b)-1])
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			n.Kind = "string"
			return nil
		}
		n.Text = s
	default:
		n.Set = true
		n.Text = string(b)
	}
	return nil
}

// FieldErrors collects problems by JSON path while a payload is converted.
// Its converters record a problem and return a zero value instead of
// failing, so that one pass reports every field at fault. The zero value
// is ready to use.
type FieldErrors struct {
	fields map[string]string
	first  string
}

// Add records problem at path; the first problem at a path wins.
func (fe *FieldErrors) Add(path, problem string) {
	if fe.fields == nil {
		fe.fields = make(map[string]string)
		fe.first = path + ": " + problem
	}
	if _, ok := fe.fields[path]; !ok {
		fe.fields[path] = problem
	}
}

// Err returns the collected problems as an EUNPROCESSABLE *ordergate.Error
// whose Fields map each path to its problem, or nil when there are none.
func (fe *FieldErrors) Err() error {
	if fe.fields == nil {
		return nil
	}
	msg := fe.first
	if n := len(fe.fields); n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: msg, Fields: fe.fields}
}

// Amount converts n, an amount in currency, to minor units. An unset n is
// zero. Problems are recorded at path.
func (fe *FieldErrors) Amount(n Number, currency, path string) int64 {
	if !fe.IsNumber(n, path) {
		return 0
	}
	v, err := order.ParseAmount(n.Text, currency)
	if err != nil {
		switch {
		case errors.Is(err, order.ErrSubMinorPrecision):
			d, _ := order.MinorDigits(currency)
			fe.Add(path, fmt.Sprintf("amount %s has more decimals than %s allows (%d)", Quote(n.Text), currency, d))
		case errors.Is(err, order.ErrUnknownCurrency):
			// The currency itself is reported where it is read.
		default:
			fe.Add(path, "not a decimal amount: "+Quote(n.Text))
		}
		return 0
	}
	return v
}

// Stated returns the channel's figure n, an amount in currency, when the
// payload has it, and computed otherwise. Problems are recorded at path.
func (fe *FieldErrors) Stated(n Number, currency, path string, computed int64) int64 {
	if !n.Present() {
		return computed
	}
	return fe.Amount(n, currency, path)
}

// Times returns a×b, recording a problem at path when it does not fit in
// int64 minor units.
func (fe *FieldErrors) Times(a, b int64, path string) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		fe.Add(path, "amount too large")
		return 0
	}
	return p
}

// Plus returns a+b, recording a problem at path when it does not fit in
// int64 minor units.
func (fe *FieldErrors) Plus(a, b int64, path string) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		fe.Add(path, "amount too large")
		return 0
	}
	return s
}

// Minus returns a−b, recording a problem at path when it does not fit in
// int64 minor units.
func (fe *FieldErrors) Minus(a, b int64, path string) int64 {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		fe.Add(path, "amount too large")
		return 0
	}
	return d
}

// Integer converts n, which must be a whole number, to int64. An unset n
// is zero. Problems are recorded at path.
func (fe *FieldErrors) Integer(n Number, path string) int64 {
	if !fe.IsNumber(n, path) {
		return 0
	}
	v, err := strconv.ParseInt(n.Text, 10, 64)
	if err != nil {
		fe.Add(path, "not a whole number: "+Quote(n.Text))
		return 0
	}
	return v
}

// ID returns n as an identifier: the text of a number or of a string. An
// unset n is empty. A wrong kind is recorded at path.
func (fe *FieldErrors) ID(n Number, path string) string {
	if !fe.IsNumber(n, path) {
		return ""
	}
	return n.Text
}

// IsNumber reports whether n holds a number or a string, recording a
// problem at path when it holds a value of another kind.
func (fe *FieldErrors) IsNumber(n Number, path string) bool {
	if n.Kind != "" {
		fe.Add(path, "must be a number or a string, not "+n.Kind)
		return false
	}
	return n.Set
}

// Time parses s, an RFC 3339 time or, when layout is given, a time in that
// layout taken as UTC, and returns it in UTC. An empty s is the zero time.
// Problems are recorded at path.
func (fe *FieldErrors) Time(s, layout, path string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil && layout != "" {
		t, err = time.Parse(layout, s)
	}
	if err != nil {
		fe.Add(path, "not a date-time: "+Quote(s))
		return time.Time{}
	}
	return t.UTC()
}

// Currency checks that code is a known ISO 4217 currency, recording a
// problem at path when it is missing or unknown.
func (fe *FieldErrors) Currency(code, path string) bool {
	if code == "" {
		fe.Add(path, "required")
		return false
	}
	if _, ok := order.MinorDigits(code); !ok {
		fe.Add(path, "unknown currency "+Quote(code))
		return false
	}
	return true
}

// Quote renders s for a message, quoted and cut short when long.
func Quote(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// DecodeError turns an error from decoding data with encoding/json into an
// *ordergate.Error: EINVALID with the byte offset, line, column and path
// for malformed JSON, EUNPROCESSABLE with the path for a value of the
// wrong type. prefix is prepended to paths when data is part of a larger
// body.
func DecodeError(data []byte, prefix string, err error) error {
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
		if p := JoinPath(prefix, pathAt(data, math.MaxInt64)); p != "" {
			e.Message = p + ": " + msg
			e.Fields = map[string]string{p: msg}
		}
		return e
	case errors.As(err, &typ):
		p := JoinPath(prefix, pathAt(data, typ.Offset))
		if p == "" {
			p = JoinPath(prefix, typ.Field)
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
	return "[" + Quote(k) + "]"
}

// JoinPath joins a path prefix and a path relative to it, such as "order"
// and "line_items[0]" into "order.line_items[0]"; either may be empty.
func JoinPath(prefix, rel string) string {
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

// Unmarshal decodes data into v with encoding/json, whose errors
// DecodeError turns into *ordergate.Error values. Parsers decode through it
// so that the decoder and the error mapping change together.
func Unmarshal(data []byte, v any) error {
	return json.Unmarshal(data, v)
}

// FirstByte returns the first byte of data that is not JSON white space,
// or 0.
func FirstByte(data []byte) byte {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}
