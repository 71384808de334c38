package order

import (
	"slices"

	"github.com/ordergate/ordergate"
)

// transitions lists, for each status, the statuses an order may move to.
// An order is taken in as received (or needs_review when a marketplace's
// figures do not add up), is submitted for approval, approved and then
// fulfilled; it may be cancelled from any status that is not final.
var transitions = map[Status][]Status{
	StatusReceived:        {StatusPendingApproval, StatusCancelled},
	StatusNeedsReview:     {StatusReceived, StatusPendingApproval, StatusCancelled},
	StatusPendingApproval: {StatusApproved, StatusCancelled},
	StatusApproved:        {StatusFulfilled, StatusCancelled},
	StatusFulfilled:       nil,
	StatusCancelled:       nil,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s.Valid() && len(transitions[s]) == 0 }

// CanMove reports whether an order in status s may move to status to.
func (s Status) CanMove(to Status) bool { return slices.Contains(transitions[s], to) }

// Move changes o's status to to, or returns an ECONFLICT error naming the
// current status when the state machine does not allow it.
func (o *Order) Move(to Status) error {
	if !o.Status.CanMove(to) {
		return &ordergate.Error{Code: ordergate.ECONFLICT,
			Message: "order is " + string(o.Status) + "; it cannot become " + string(to),
			Details: map[string]any{"status": string(o.Status)}}
	}
	o.Status = to
	return nil
}
