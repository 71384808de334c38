package channeljson

// maxDepth is how deeply arrays and objects may nest: encoding/json's
// limit, so that both accept the same documents.
const maxDepth = 10000

// node is one value or object key of a scanned document. Nodes are kept
// in document order: an object is followed by its keys, each followed by
// its value, and an array by its elements.
type node struct {
	kind  byte // '{', '[', '"' (a string or a key), '0' (a number), 't', 'f' or 'n'
	esc   bool // a string with escapes
	start int  // offset of its first byte (a string's opening quote)
	end   int  // offset after its last byte
	next  int  // index of the node after it and everything it holds
	n     int  // how many members or elements an object or an array holds
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
	s.data, s.nodes, s.depth = data, s.nodes[:0], 0
	i, ok := s.value(s.space(0))
	return ok && s.space(i) == len(data)
}

// space returns the offset of the first byte from i on that is not JSON
// white space.
func (s *scanner) space(i int) int {
	for i < len(s.data) {
		switch s.data[i] {
		case ' ', '\t', '\n', '\r':
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
	s.nodes = append(s.nodes, node{kind: s.data[i], start: i})
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
	c.end, c.next, c.n = i, len(s.nodes), n
	return i, true
}

// plain marks the bytes that may stand in a JSON string as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// string scans the string, or object key, that starts at i.
func (s *scanner) string(i int) (int, bool) {
	start, esc := i, false
	for i++; i < len(s.data); i++ {
		c := s.data[i]
		if plain[c] {
			continue
		}
		switch c {
		case '"':
			s.nodes = append(s.nodes, node{kind: '"', esc: esc, start: start, end: i + 1, next: len(s.nodes) + 1})
			return i + 1, true
		case '\\':
			esc = true
			if i++; i >= len(s.data) {
				return i, false
			}
			switch s.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.data) || !isHex(s.data[i+1]) || !isHex(s.data[i+2]) || !isHex(s.data[i+3]) || !isHex(s.data[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		default: // a control character
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
	s.nodes = append(s.nodes, node{kind: '0', start: start, end: i, next: len(s.nodes) + 1})
	return i, true
}

// literal scans word, true, false or null, which starts at i.
func (s *scanner) literal(i int, word string) (int, bool) {
	end := i + len(word)
	if end > len(s.data) || string(s.data[i:end]) != word {
		return i, false
	}
	s.nodes = append(s.nodes, node{kind: word[0], start: i, end: end, next: len(s.nodes) + 1})
	return end, true
}
