package sqlstore

import (
	"crypto/rand"
	"strings"
	"time"
)

// sortedDigits are the characters of newID's random part in byte order,
// so that text comparison of encoded times is numeric comparison.
const sortedDigits = "234567abcdefghijklmnopqrstuvwxyz"

// timeDigits is how many characters of a sorted ID encode its
// millisecond time: 45 bits, until the year 3085.
const timeDigits = 9

// newSortedID returns an identifier like newID's (a type prefix and 20
// characters of the same alphabet) whose first characters are t in
// milliseconds and the other 11 random (55 bits). IDs of rows inserted
// one after another then sort together, so an index on them grows at
// its right-most page instead of changing a random page for each row.
// For rows written at high rates (orders, raw payloads) only: the time
// is readable in it, and it is no secret.
func newSortedID(prefix string, t time.Time) string {
	var b strings.Builder
	b.Grow(len(prefix) + 1 + 20)
	b.WriteString(prefix)
	b.WriteByte('_')
	ms := uint64(max(t.UnixMilli(), 0))
	for i := timeDigits - 1; i >= 0; i-- {
		b.WriteByte(sortedDigits[(ms>>(5*i))&31])
	}
	b.WriteString(strings.ToLower(rand.Text()[:20-timeDigits]))
	return b.String()
}
