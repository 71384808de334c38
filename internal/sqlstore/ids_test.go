package sqlstore

import (
	"regexp"
	"testing"
	"time"
)

func TestSortedID(t *testing.T) {
	format := regexp.MustCompile(`^ord_[a-z2-7]{20}$`)
	start := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 2000 {
		id := newSortedID("ord", start.Add(time.Duration(i)*time.Millisecond))
		if !format.MatchString(id) {
			t.Fatalf("newSortedID = %q, want ord_ and 20 characters of [a-z2-7]", id)
		}
		if id <= prev {
			t.Fatalf("newSortedID a millisecond later = %q, not after %q", id, prev)
		}
		prev = id
	}
	if a, b := newSortedID("raw", start), newSortedID("raw", start); a == b || a[:4+timeDigits] != b[:4+timeDigits] {
		t.Errorf("two IDs of one millisecond: %q and %q; want the same time and other random characters", a, b)
	}
	if !format.MatchString(newID("ord")) {
		t.Errorf("newID and newSortedID differ in format")
	}
}
