package auth

import (
	"context"
)

// findPastDeadline returns one page of the enabled users q selects whom
// the policy asks for a second factor by now and who have none that
// counts, and the cursor of the next page. Whether a user is past the
// deadline depends on the policy, not on a column, so the store's pages
// are read in order and filtered here.
func (s *Service) findPastDeadline(ctx context.Context, q UserQuery) ([]UserEntry, string, error) {
	enrolled, err := s.Store.EnrolledMethods(ctx)
	if err != nil {
		return nil, "", err
	}
	if q.Disabled != nil && *q.Disabled {
		return nil, "", nil // disabled users need no factor
	}
	enabled := false
	q.Disabled = &enabled
	want := q.Limit
	q.Limit = 200
	now := s.Clock.Now()
	var out []UserEntry
	for {
		rows, err := s.adminStore().QueryUsers(ctx, q)
		if err != nil {
			return nil, "", err
		}
		for _, e := range rows {
			if !s.Policy.PastDeadline(e.User, enrolled[e.User.ID], now) {
				continue
			}
			if len(out) == want {
				return out, out[want-1].User.Username, nil
			}
			out = append(out, e)
		}
		if len(rows) < q.Limit {
			return out, "", nil
		}
		q.After = rows[len(rows)-1].User.Username
	}
}
