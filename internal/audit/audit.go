// Package audit is ordergate's tamper-evident record of every security and
// order event. Events are appended in a gap-free sequence and each is
// chained to the one before it by an HMAC-SHA-256 under a key kept outside
// the database, so a changed, removed or reordered row is found by Verify.
package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/ordergate/ordergate"
)

// Event is one audit record. Seq, PrevMAC and MAC are set when the event is
// appended; callers fill in the rest.
type Event struct {
	Seq int64 `json:"seq"`
	// At is the time of the event, stored with microsecond precision.
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	// Outcome is "ok", "failed", "denied" or "throttled".
	Outcome string `json:"outcome"`
	// Actor is who did it, with the authentication context of the session.
	Actor ordergate.Actor `json:"actor"`
	// SubjectID is the user an identity event is about (may be empty).
	SubjectID string `json:"subject_id,omitempty"`
	// OrderID is set for order events.
	OrderID string `json:"order_id,omitempty"`
	// Data holds event-specific details; never a secret.
	Data    map[string]any `json:"data,omitempty"`
	PrevMAC string         `json:"prev_mac"`
	MAC     string         `json:"mac"`
}

// Outcomes of an event.
const (
	OutcomeOK        = "ok"
	OutcomeFailed    = "failed"
	OutcomeDenied    = "denied"
	OutcomeThrottled = "throttled"
)

// Chain computes the MACs that link events. Its key is derived from the
// master key, so someone with write access to the database alone cannot
// forge a consistent chain.
type Chain struct {
	key []byte
}

// NewChain returns a Chain keyed with key (at least 32 bytes).
func NewChain(key []byte) (*Chain, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("audit chain key: need 32 bytes, got %d", len(key))
	}
	return &Chain{key: append([]byte(nil), key...)}, nil
}

// Record is an event as stored: the indexed columns a store keeps for
// search, and Body, the canonical encoding the MAC covers.
type Record struct {
	Seq       int64
	At        time.Time
	Action    string
	ActorID   string
	SubjectID string
	OrderID   string
	Body      []byte
	PrevMAC   string
	MAC       string
}

// Link seals e as the event after the one whose MAC is prev and returns the
// record to store. e.Seq must already be set; e.At is truncated to
// microseconds, the precision the stores keep.
func (c *Chain) Link(e *Event, prev string) (Record, error) {
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.PrevMAC, e.MAC = prev, ""
	body, err := json.Marshal(e)
	if err != nil {
		return Record{}, fmt.Errorf("encode audit event: %w", err)
	}
	e.MAC = c.mac(prev, body)
	return Record{Seq: e.Seq, At: e.At, Action: e.Action, ActorID: e.Actor.ID, SubjectID: e.SubjectID,
		OrderID: e.OrderID, Body: body, PrevMAC: prev, MAC: e.MAC}, nil
}

func (c *Chain) mac(prev string, body []byte) string {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Decode returns the event a record holds, with its MAC.
func (r Record) Decode() (Event, error) {
	var e Event
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	if err := d.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("decode audit event %d: %w", r.Seq, err)
	}
	e.MAC = r.MAC
	return e, nil
}

// check reports whether r links to prev, carries the MAC its body gives,
// and its indexed columns agree with its body.
func (c *Chain) check(r Record, prev string) bool {
	if r.PrevMAC != prev || !hmac.Equal([]byte(c.mac(prev, r.Body)), []byte(r.MAC)) {
		return false
	}
	e, err := r.Decode()
	if err != nil {
		return false
	}
	return e.Seq == r.Seq && e.PrevMAC == prev && e.At.Equal(r.At) && e.Action == r.Action &&
		e.Actor.ID == r.ActorID && e.SubjectID == r.SubjectID && e.OrderID == r.OrderID
}

// Head is the last appended event's sequence number and MAC, kept apart
// from the events so that removing the newest rows is found too.
type Head struct {
	Seq int64
	MAC string
}

// Result is the outcome of Verify.
type Result struct {
	OK     bool  `json:"ok"`
	Events int64 `json:"events"`
	// BrokenAt is the first sequence number that does not verify.
	BrokenAt int64 `json:"broken_at,omitempty"`
}

// Verify walks records in sequence order (next returns false at the end)
// and checks that sequence numbers run 1, 2, 3… without gaps, that every
// MAC links to the one before, and that the last record matches head.
func (c *Chain) Verify(head Head, next func() (Record, bool, error)) (Result, error) {
	var prev string
	var n int64
	for {
		r, ok, err := next()
		if err != nil {
			return Result{}, err
		}
		if !ok {
			break
		}
		n++
		if r.Seq != n || !c.check(r, prev) {
			return Result{Events: n - 1, BrokenAt: n}, nil
		}
		prev = r.MAC
	}
	if head.Seq != n || head.MAC != prev {
		return Result{Events: n, BrokenAt: min(head.Seq, n) + 1}, nil
	}
	return Result{OK: true, Events: n}, nil
}

// Reader reads the stored chain.
type Reader interface {
	// AuditHead returns the sequence number and MAC of the newest event.
	AuditHead(ctx context.Context) (Head, error)
	// AuditRecords calls fn with each record after seq, in order, while
	// fn returns true.
	AuditRecords(ctx context.Context, after int64, fn func(Record) bool) error
}

// VerifyStore verifies the whole chain kept by r.
func (c *Chain) VerifyStore(ctx context.Context, r Reader) (Result, error) {
	head, err := r.AuditHead(ctx)
	if err != nil {
		return Result{}, err
	}
	var readErr error
	next, stop := iter.Pull(func(yield func(Record) bool) {
		readErr = r.AuditRecords(ctx, 0, yield)
	})
	defer stop()
	return c.Verify(head, func() (Record, bool, error) {
		rec, ok := next()
		return rec, ok, readErr
	})
}

// Filter selects events for reading.
type Filter struct {
	ActorID   string
	SubjectID string
	OrderID   string
	Action    string
	Since     time.Time
	// Before, when set, returns only events with a lower sequence number
	// (the cursor for the next page).
	Before int64
	Limit  int
}
