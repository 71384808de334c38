package channeljson

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// maxDepth is how deeply arrays and objects may nest: encoding/json's
// limit, so that both accept the same documents.
const maxDepth = 10000

// maxSize is the size of the largest document the scanner takes: its
// offsets are int32, which keeps nodes small.
const maxSize = math.MaxInt32

// node is one value or object key of a scanned document. Nodes are kept
// in document order: an object is followed by its keys, each followed by
// its value, and an array by its elements.
type node struct {
	kind  byte  // '{', '[', '"' (a string or a key), '0' (a number), 't', 'f' or 'n'
	esc   bool  // a string with escapes
	start int32 // offset of its first byte (a string's opening quote)
	end   int32 // offset after its last byte
	next  int32 // index of the node after it and everything it holds
	n     int32 // how many members or elements an object or an array holds
}

// scanner turns a document into nodes, refusing exactly what encoding/json
// refuses. It records only where values are; strings and numbers are
// decoded when they are read.
type scanner struct {
	data  []byte
	nodes []node
	depth int
}

// scan scans data, reporting whether it is one JSON value with nothing but
// white space around it. The value is s.nodes[0].
func (s *scanner) scan(data []byte) bool {
	if len(data) > maxSize {
		return false
	}
	s.data, s.nodes, s.depth = data, s.nodes[:0], 0
	i, ok := s.value(s.space(0))
	return ok && s.space(i) == len(data)
}

// space returns the offset of the first byte from i on that is not JSON
// white space.
func (s *scanner) space(i int) int {
	data := s.data
	for i < len(data) {
		switch data[i] {
		case ' ':
			if i+8 > len(data) {
				i++
			} else if m := binary.LittleEndian.Uint64(data[i:]) ^ spaces; m == 0 {
				i += 8 // indentation
			} else {
				i += bits.TrailingZeros64(m) / 8 // to the first byte that is not a space
			}
		case '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value scans the value that starts at i and returns the offset after it.
func (s *scanner) value(i int) (int, bool) {
	if i >= len(s.data) {
		return i, false
	}
	switch c := s.data[i]; {
	case c == '{', c == '[':
		return s.container(i)
	case c == '"':
		return s.string(i)
	case c == '-', c >= '0' && c <= '9':
		return s.number(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	}
	return i, false
}

// container scans the object or array that starts at i.
func (s *scanner) container(i int) (int, bool) {
	if s.depth++; s.depth > maxDepth {
		return i, false
	}
	at := len(s.nodes)
	s.nodes = append(s.nodes, node{kind: s.data[i], start: int32(i)})
	object := s.data[i] == '{'
	closer := byte(']')
	if object {
		closer = '}'
	}
	i = s.space(i + 1)
	n := 0
	if i < len(s.data) && s.data[i] == closer {
		i++
	} else {
		for {
			var ok bool
			if object {
				if i >= len(s.data) || s.data[i] != '"' {
					return i, false
				}
				if i, ok = s.string(i); !ok {
					return i, false
				}
				if i = s.space(i); i >= len(s.data) || s.data[i] != ':' {
					return i, false
				}
				i = s.space(i + 1)
			}
			if i, ok = s.value(i); !ok {
				return i, false
			}
			n++
			if i = s.space(i); i >= len(s.data) {
				return i, false
			}
			if c := s.data[i]; c != ',' {
				if c != closer {
					return i, false
				}
				i++
				break
			}
			i = s.space(i + 1)
		}
	}
	s.depth--
	c := &s.nodes[at]
	c.end, c.next, c.n = int32(i), int32(len(s.nodes)), int32(n)
	return i, true
}

// Eight bytes at once, for the scanner's word-at-a-time loops.
const (
	spaces = 0x2020202020202020
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
)

// special returns, in w read little endian, the high bit of each byte
// that is a quote, a backslash or a control character (a byte that cannot
// stand in a JSON string as it is) or zero when there is none. The lowest
// bit set marks the first such byte; those above it may be wrong.
func special(w uint64) uint64 {
	quotes, backslashes := w^('"'*ones), w^('\\'*ones)
	zero := (quotes-ones)&^quotes | (backslashes-ones)&^backslashes // a byte that was '"' or '\\'
	below := w - ' '*ones                                           // with the high bit clear in w: a byte below ' '
	return (zero | below) &^ w & highs
}

// string scans the string, or object key, that starts at i.
func (s *scanner) string(i int) (int, bool) {
	data := s.data
	start, esc := i, false
	for i++; i < len(data); i++ {
		if i+8 <= len(data) { // eight bytes at once, to the first special one
			m := special(binary.LittleEndian.Uint64(data[i:]))
			if m == 0 {
				i += 7
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
		switch c := data[i]; {
		case c == '"':
			s.nodes = append(s.nodes, node{kind: '"', esc: esc, start: int32(start), end: int32(i + 1), next: int32(len(s.nodes) + 1)})
			return i + 1, true
		case c == '\\':
			esc = true
			if i++; i >= len(data) {
				return i, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		case c < ' ':
			return i, false
		}
	}
	return i, false
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number scans the number that starts at i: an optional minus, an integer
// without leading zeros, an optional fraction and an optional exponent.
func (s *scanner) number(i int) (int, bool) {
	start := i
	digits := func() int {
		from := i
		for i < len(s.data) && s.data[i] >= '0' && s.data[i] <= '9' {
			i++
		}
		return i - from
	}
	if s.data[i] == '-' {
		i++
	}
	if i < len(s.data) && s.data[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, false
	}
	if i < len(s.data) && s.data[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	s.nodes = append(s.nodes, node{kind: '0', start: int32(start), end: int32(i), next: int32(len(s.nodes) + 1)})
	return i, true
}

// literal scans word, true, false or null, which starts at i.
func (s *scanner) literal(i int, word string) (int, bool) {
	end := i + len(word)
	if end > len(s.data) || string(s.data[i:end]) != word {
		return i, false
	}
	s.nodes = append(s.nodes, node{kind: word[0], start: int32(i), end: int32(end), next: int32(len(s.nodes) + 1)})
	return end, true
}
