// Package channeljson is the shared decoding vocabulary of the JSON channel
// parsers under internal/intake (shopify, woocommerce, amazon).
//
// Read scans a payload once, accepting exactly what encoding/json accepts,
// into a flat list of where each value is (scan.go), and hands the parser
// its top-level Value; the parser reads the members it needs through
// Object's typed getters, which keep JSON numbers as their text so that no
// amount ever passes through float64 (Number), convert channel scalars
// into canonical values, and record every problem, a value of the wrong
// kind or a bad amount, under its JSON path (FieldErrors). Keys match
// exactly, and the last of repeated keys counts. Malformed JSON is
// reported with the byte offset, line, column and path that encoding/json
// finds. The package knows nothing of any one channel's payload.
package channeljson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ordergate/ordergate"
)

// Number is a JSON number or a string holding one, kept as its text so that
// no value ever passes through float64. null or a missing member leaves it
// unset. Any other JSON value is remembered by Kind and reported by the
// converters, which know the path.
type Number struct {
	// Text is the number's text, or the string's contents.
	Text string
	// Set reports whether the value was a number or a string.
	Set bool
	// Kind is "bool", "object" or "array" when the value was none of a
	// number, a string or null; it is empty otherwise.
	Kind string
}

// FieldErrors collects problems by JSON path while a payload is converted.
// The getters of Object and the arithmetic below record a problem and
// return a zero value instead of failing, so that one pass reports every
// field at fault. The zero value is ready to use.
type FieldErrors struct {
	values problems // bad values, such as an amount that is not exact
	kinds  problems // values of the wrong kind, such as a number for a name
}

// problems maps JSON paths to what is wrong there.
type problems struct {
	fields map[string]string
	first  string
}

// add records problem at path; the first problem at a path wins.
func (p *problems) add(path, problem string) {
	if p.fields == nil {
		p.fields = make(map[string]string)
		p.first = path + ": " + problem
	}
	if _, ok := p.fields[path]; !ok {
		p.fields[path] = problem
	}
}

// Add records problem at path; the first problem at a path wins.
func (fe *FieldErrors) Add(path, problem string) {
	fe.values.add(path, problem)
}

// addKind records that the value at path is of the wrong kind.
func (fe *FieldErrors) addKind(path, problem string) {
	fe.kinds.add(path, problem)
}

// Err returns the collected problems as an EUNPROCESSABLE *ordergate.Error
// whose Fields map each path to its problem, or nil when there are none.
// Values of the wrong kind, when there are any, are reported alone: the
// document does not have the expected shape, and the problems found
// around them may only be their consequences. A number, amount or id of
// the wrong kind counts as a bad value, not a wrong shape: it is reported
// beside the other problems.
func (fe *FieldErrors) Err() error {
	p := &fe.kinds
	if p.fields == nil {
		p = &fe.values
	}
	if p.fields == nil {
		return nil
	}
	msg := p.first
	if n := len(p.fields); n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return &ordergate.Error{Code: ordergate.EUNPROCESSABLE, Message: msg, Fields: p.fields}
}

// Quote renders s for a message, quoted and cut short when long.
func Quote(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// decodeError turns err, the error encoding/json gives for malformed data,
// into an EINVALID *ordergate.Error with the byte offset, line, column and
// the path where data stops being valid JSON.
func decodeError(data []byte, err error) error {
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		return &ordergate.Error{Code: ordergate.EINVALID, Message: "cannot decode JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	line, col := lineColumn(data, syn.Offset)
	msg := fmt.Sprintf("malformed JSON after byte %d (line %d, column %d): %s", syn.Offset, line, col, strings.TrimPrefix(syn.Error(), "json: "))
	e := &ordergate.Error{
		Code:    ordergate.EINVALID,
		Message: msg,
		Details: map[string]any{"offset": syn.Offset, "line": line, "column": col},
	}
	if p := pathAt(data); p != "" {
		e.Message = p + ": " + msg
		e.Fields = map[string]string{p: msg}
	}
	return e
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

// pathAt returns the JSON path where data stops being valid JSON, such as
// `order.line_items[1].quantity`. It is slow and meant for error reports
// only.
func pathAt(data []byte) string {
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
		switch tok {
		case json.Delim('{'), json.Delim('['):
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
