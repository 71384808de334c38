package channeljson

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/order"
)

// Read parses data, one JSON document, and calls read with its top-level
// value. Problems that the Values and Objects read find (a value of the
// wrong kind, a bad amount) are recorded in fe under their JSON paths.
// Values and Objects must not be used after read returns.
//
// Read accepts exactly the documents encoding/json accepts; any other
// gives an EINVALID *ordergate.Error naming the byte offset, line, column
// and path where it stops being valid JSON.
func Read(data []byte, fe *FieldErrors, read func(top Value)) error {
	r := readers.Get().(*reader)
	defer r.release()
	if !r.scan(data) {
		return malformed(data)
	}
	r.fe, r.members, r.buckets, r.steps = fe, r.members[:0], r.buckets[:0], append(r.steps[:0], step{})
	read(Value{at: 0, path: 0, r: r})
	return nil
}

// Valid returns nil when data is a document Read accepts, and the error
// Read would give otherwise.
func Valid(data []byte) error {
	r := readers.Get().(*reader)
	defer r.release()
	if !r.scan(data) {
		return malformed(data)
	}
	return nil
}

// malformed returns the EINVALID error for data, which the scanner
// refused: encoding/json refuses it too, and names the place.
func malformed(data []byte) error {
	if len(data) > maxSize {
		return &ordergate.Error{Code: ordergate.EINVALID, Message: "JSON document larger than 2 GiB"}
	}
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return decodeError(data, err)
	}
	return &ordergate.Error{Code: ordergate.EINVALID, Message: "malformed JSON"}
}

// readers holds readers, and the memory they grew, for reuse.
var readers = sync.Pool{New: func() any { return new(reader) }}

// reader is the state of one Read.
type reader struct {
	scanner
	members []member // the members of the Objects read, object after object
	buckets []int    // the buckets of the Objects read, object after object
	steps   []step   // the paths of the Values read; steps[0] is the top
	fe      *FieldErrors
}

// step is the last step of a JSON path: a member key or an array index
// within the path steps[parent]. Paths are kept as steps, and made into
// text only for a problem.
type step struct {
	parent int
	key    string
	index  int // -1 for a member
}

// child returns the path of member key (index -1) or element index of the
// value at path parent.
func (r *reader) child(parent int, key string, index int) int {
	r.steps = append(r.steps, step{parent, key, index})
	return len(r.steps) - 1
}

// path returns path p as text, such as "order.line_items[1].quantity"; the
// top is "".
func (r *reader) path(p int) string {
	if p == 0 {
		return ""
	}
	st := r.steps[p]
	if st.index >= 0 {
		return r.path(st.parent) + "[" + strconv.Itoa(st.index) + "]"
	}
	return JoinPath(r.path(st.parent), st.key)
}

// maxPooled is the most nodes a reader keeps for reuse: about 1.3 MB,
// where a channel's order takes a few hundred.
const maxPooled = 1 << 16

// release lets go of the document and returns r to readers, unless an
// unusually large document grew its memory.
func (r *reader) release() {
	r.data, r.fe = nil, nil
	if cap(r.nodes) <= maxPooled {
		readers.Put(r)
	}
}

// text returns the JSON text of node i.
func (r *reader) text(i int) []byte {
	return r.data[r.nodes[i].start:r.nodes[i].end]
}

// str decodes node i, a string or a key, as encoding/json does: escapes
// resolved, and each byte that is not valid UTF-8, and each lone
// surrogate, replaced by U+FFFD.
func (r *reader) str(i int) string {
	t := r.text(i)
	s := t[1 : len(t)-1]
	if !r.nodes[i].esc && utf8.Valid(s) {
		return string(s)
	}
	var out string
	_ = json.Unmarshal(t, &out) // t is a valid JSON string: the scanner checked it
	return out
}

// member is a key of an object, for lookups.
type member struct {
	key  int    // its node; the value's is the next one
	name string // the key decoded, when it has escapes
	next int    // the member before it in its bucket, plus one, or 0
}

// object returns node at, an object found at path, with its members
// chained into buckets for lookups.
func (r *reader) object(at, path int) Object {
	n := int(r.nodes[at].n)
	size := 4
	for size < n {
		size *= 2
	}
	start, first := len(r.buckets), len(r.members)
	r.buckets = append(r.buckets, make([]int, size)...)
	buckets := r.buckets[start : start+size : start+size]
	for k := at + 1; k < int(r.nodes[at].next); k = int(r.nodes[k+1].next) {
		m := member{key: k}
		var b int
		if r.nodes[k].esc {
			m.name = r.str(k)
			b = bucket(m.name) & (size - 1)
		} else {
			b = bucket(r.keyText(k)) & (size - 1)
		}
		m.next, buckets[b] = buckets[b], len(r.members)-first+1
		r.members = append(r.members, m)
	}
	end := len(r.members)
	return Object{buckets: buckets, members: r.members[first:end:end], path: path, r: r, present: true}
}

// keyText returns node k, a key without escapes, between its quotes.
func (r *reader) keyText(k int) []byte {
	return r.data[r.nodes[k].start+1 : r.nodes[k].end-1]
}

// bucket spreads keys over buckets by their length and three of their
// bytes. Keys chosen to share a bucket only make lookups scan it, as a
// parser makes a fixed number of lookups: no payload can make them
// costlier than a scan of its keys.
func bucket[T string | []byte](key T) int {
	if len(key) == 0 {
		return 0
	}
	return len(key) + int(key[0])*3 + int(key[len(key)/2])*5 + int(key[len(key)-1])*7
}

// Value is one value of a document being read, at a JSON path. An absent
// Value (a missing member) reads like null.
type Value struct {
	at   int // its node, or -1 when absent
	path int // in r.steps
	r    *reader
}

// Kind returns the kind of v: "null" (for an absent v too), "bool",
// "number", "string", "object" or "array".
func (v Value) Kind() string {
	if v.at < 0 {
		return "null"
	}
	switch v.r.nodes[v.at].kind {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	}
	return "null"
}

// IsNull reports whether v is null or absent.
func (v Value) IsNull() bool {
	return v.Kind() == "null"
}

// Object returns v as an object. A null v gives an absent Object at v's
// path; a value of another kind does too, and is recorded as a wrong
// kind.
func (v Value) Object() Object {
	if v.Kind() == "object" {
		return v.r.object(v.at, v.path)
	}
	v.wantKind("an object")
	return Object{path: v.path, r: v.r}
}

// Objects returns v, an array of objects, as Objects at their paths: nil
// when v is null, empty (not nil) for an empty array. A value of another
// kind, or an element that is not an object or null, is recorded as a
// wrong kind; a null element gives an absent Object.
func (v Value) Objects() []Object {
	if v.Kind() != "array" {
		v.wantKind("an array")
		return nil
	}
	out := make([]Object, v.r.nodes[v.at].n)
	for i, e := 0, v.at+1; i < len(out); i, e = i+1, int(v.r.nodes[e].next) {
		out[i] = Value{at: e, path: v.r.child(v.path, "", i), r: v.r}.Object()
	}
	return out
}

// wantKind records that v should have been of kind want (such as "a
// string"), unless it is null. A wrong kind makes the shape of the
// document wrong, so FieldErrors reports such problems alone.
func (v Value) wantKind(want string) {
	if k := v.Kind(); k != "null" {
		v.r.fe.addKind(cmp.Or(v.r.path(v.path), "$"), "must be "+want+", not "+k)
	}
}

// Object is a JSON object of a document being read, at a JSON path. Its
// getters read a member by key and record problems, such as a value of
// the wrong kind, under the member's path; a member that is missing or
// null reads as the zero value. An absent Object (null or missing) reads
// as empty.
type Object struct {
	buckets []int    // the first member of each bucket, plus one, or 0
	members []member // made by reader.object
	path    int      // in r.steps
	r       *reader
	present bool
}

// Present reports whether o is an object of the document rather than
// null or missing.
func (o Object) Present() bool {
	return o.present
}

// Path returns the JSON path of o's member key.
func (o Object) Path(key string) string {
	return JoinPath(o.r.path(o.path), key)
}

// find returns the node of the value of member key, or -1. When a key
// appears more than once the last one counts, as with encoding/json: its
// bucket holds the members last first.
func (o Object) find(key string) int {
	if len(o.buckets) == 0 {
		return -1
	}
	for i := o.buckets[bucket(key)&(len(o.buckets)-1)]; i != 0; i = o.members[i-1].next {
		m := &o.members[i-1]
		if o.r.nodes[m.key].esc {
			if m.name == key {
				return m.key + 1
			}
		} else if string(o.r.keyText(m.key)) == key {
			return m.key + 1
		}
	}
	return -1
}

// Value returns the member key, absent when o has none.
func (o Object) Value(key string) Value {
	return Value{at: o.find(key), path: o.r.child(o.path, key, -1), r: o.r}
}

// Has reports whether o has the member key with a value other than null.
func (o Object) Has(key string) bool {
	return Value{at: o.find(key), r: o.r}.Kind() != "null"
}

// Object returns the member key, an object, as Value.Object does.
func (o Object) Object(key string) Object {
	return o.Value(key).Object()
}

// Objects returns the member key, an array of objects, as Value.Objects
// does.
func (o Object) Objects(key string) []Object {
	return o.Value(key).Objects()
}

// String returns the member key, a string.
func (o Object) String(key string) string {
	v := Value{at: o.find(key), r: o.r}
	switch v.Kind() {
	case "string":
		return o.r.str(v.at)
	case "null":
		return ""
	}
	o.Value(key).wantKind("a string")
	return ""
}

// Bool returns the member key, true or false.
func (o Object) Bool(key string) bool {
	v := Value{at: o.find(key), r: o.r}
	switch v.Kind() {
	case "bool":
		return o.r.nodes[v.at].kind == 't'
	case "null":
		return false
	}
	o.Value(key).wantKind("true or false")
	return false
}

// Number returns the member key, a number or a string holding one, as a
// Number; a value of another kind is remembered in its Kind for the
// converters to report.
func (o Object) Number(key string) Number {
	v := Value{at: o.find(key), r: o.r}
	switch k := v.Kind(); k {
	case "null":
		return Number{}
	case "number":
		return Number{Text: string(o.r.text(v.at)), Set: true}
	case "string":
		return Number{Text: o.r.str(v.at), Set: true}
	default:
		return Number{Kind: k}
	}
}

// Add records problem at the path of o's member key.
func (o Object) Add(key, problem string) {
	o.r.fe.Add(o.Path(key), problem)
}

// Currency returns the member key, an ISO 4217 currency code, and whether
// it is a known one; a missing or unknown code is recorded as a problem.
func (o Object) Currency(key string) (string, bool) {
	code := o.String(key)
	switch _, ok := order.MinorDigits(code); {
	case code == "":
		o.Add(key, "required")
	case !ok:
		o.Add(key, "unknown currency "+Quote(code))
	default:
		return code, true
	}
	return code, false
}

// Amount returns the member key, an amount in currency, in minor units; a
// missing amount is zero.
func (o Object) Amount(key, currency string) int64 {
	v, problem := o.Number(key).amount(currency)
	if problem != "" {
		o.Add(key, problem)
	}
	return v
}

// Total returns ord's subtotal − discounts + shipping + tax, recording
// "amount too large" at the path of o's member key when it does not fit.
func (o Object) Total(key string, ord *order.Order) int64 {
	return o.Plus(o.Plus(o.Minus(ord.Subtotal, ord.DiscountTotal, key), ord.ShippingTotal, key), ord.TaxTotal, key)
}

// StatedTotal returns the member key, an amount in ord's currency, when o
// has it, and Total otherwise: a stated total is taken as it is, even
// when the parts would not add up within int64.
func (o Object) StatedTotal(key string, ord *order.Order) int64 {
	if o.Has(key) {
		return o.Amount(key, ord.Currency)
	}
	return o.Total(key, ord)
}

// Stated returns the member key, an amount in currency, when o has it,
// and computed otherwise.
func (o Object) Stated(key, currency string, computed int64) int64 {
	if !o.Has(key) {
		return computed
	}
	return o.Amount(key, currency)
}

// Integer returns the member key, a whole number; a missing one is zero.
func (o Object) Integer(key string) int64 {
	v, problem := o.Number(key).integer()
	if problem != "" {
		o.Add(key, problem)
	}
	return v
}

// ID returns the member key, an identifier given as a number or a string,
// as text; a missing one is empty.
func (o Object) ID(key string) string {
	id, _ := o.id(key)
	return id
}

// RequiredID returns the member key as ID does, recording that it is
// required when it is missing, null or empty.
func (o Object) RequiredID(key string) string {
	id, ok := o.id(key)
	if id == "" && ok {
		o.Add(key, "required")
	}
	return id
}

// id returns the member key as text, and whether it is of a right kind.
func (o Object) id(key string) (string, bool) {
	n := o.Number(key)
	if problem := n.kindProblem(); problem != "" {
		o.Add(key, problem)
		return "", false
	}
	return n.Text, true
}

// Time returns the member key, an RFC 3339 time or, when layout is given,
// a time in that layout taken as UTC, in UTC; a missing or empty one is
// the zero time.
func (o Object) Time(key, layout string) time.Time {
	s := o.String(key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil && layout != "" {
		t, err = time.Parse(layout, s)
	}
	if err != nil {
		o.Add(key, "not a date-time: "+Quote(s))
		return time.Time{}
	}
	return t.UTC()
}

// Sum adds up the amount at key, in currency, of each of objs, recording
// "amount too large" at the object where the sum stops fitting.
func Sum(objs []Object, key, currency string) int64 {
	var sum int64
	for _, o := range objs {
		sum = o.Plus(sum, o.Amount(key, currency), key)
	}
	return sum
}

// Plus returns a+b, recording "amount too large" at the path of o's
// member key when the sum does not fit in int64 minor units.
func (o Object) Plus(a, b int64, key string) int64 {
	s, ok := order.AddAmounts(a, b)
	return o.fits(s, ok, key)
}

// Minus returns a−b, recording "amount too large" at the path of o's
// member key when the difference does not fit in int64 minor units.
func (o Object) Minus(a, b int64, key string) int64 {
	d, ok := order.SubAmounts(a, b)
	return o.fits(d, ok, key)
}

// Times returns a×b, recording "amount too large" at the path of o's
// member key when the product does not fit in int64 minor units.
func (o Object) Times(a, b int64, key string) int64 {
	p, ok := order.MulAmounts(a, b)
	return o.fits(p, ok, key)
}

// fits returns v, recording "amount too large" at the path of o's member
// key when the arithmetic that gave it overflowed.
func (o Object) fits(v int64, ok bool, key string) int64 {
	if !ok {
		o.Add(key, "amount too large")
	}
	return v
}

// amount converts n, an amount in currency, to minor units, or returns the
// problem with it. An unset n is zero.
func (n Number) amount(currency string) (int64, string) {
	if problem := n.kindProblem(); problem != "" || !n.Set {
		return 0, problem
	}
	v, err := order.ParseAmount(n.Text, currency)
	switch {
	case err == nil:
		return v, ""
	case errors.Is(err, order.ErrSubMinorPrecision):
		d, _ := order.MinorDigits(currency)
		return 0, fmt.Sprintf("amount %s has more decimals than %s allows (%d)", Quote(n.Text), currency, d)
	case errors.Is(err, order.ErrUnknownCurrency):
		return 0, "" // the currency itself is reported where it is read
	}
	return 0, "not a decimal amount: " + Quote(n.Text)
}

// integer converts n, a whole number, to int64, or returns the problem
// with it. An unset n is zero.
func (n Number) integer() (int64, string) {
	if problem := n.kindProblem(); problem != "" || !n.Set {
		return 0, problem
	}
	v, err := strconv.ParseInt(n.Text, 10, 64)
	if err != nil {
		return 0, "not a whole number: " + Quote(n.Text)
	}
	return v, ""
}

// kindProblem returns the problem with n when it held a value that is
// neither a number nor a string.
func (n Number) kindProblem() string {
	if n.Kind != "" {
		return "must be a number or a string, not " + n.Kind
	}
	return ""
}
