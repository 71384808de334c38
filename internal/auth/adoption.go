package auth

import (
	"context"
	"slices"
	"time"
)

// RoleAdoption is second-factor adoption within one role ("*" overall).
type RoleAdoption struct {
	Role     string         `json:"role"`
	Total    int            `json:"total"`
	Enrolled int            `json:"enrolled"`
	Percent  float64        `json:"percent"`
	ByType   map[string]int `json:"factor_types,omitempty"`
	// PastDeadline counts users who must have a second factor by now
	// (a mandatory role or a rollout phase past its grace) and have none.
	PastDeadline int `json:"past_deadline"`
}

// AdoptionDay is one day's recorded adoption.
type AdoptionDay struct {
	Day   string         `json:"day"`
	Roles []RoleAdoption `json:"roles"`
}

// Adoption is the second-factor adoption report.
type Adoption struct {
	Overall RoleAdoption   `json:"overall"`
	Roles   []RoleAdoption `json:"roles"`
	// PastDeadline lists the usernames counted in Overall.PastDeadline.
	PastDeadline []string `json:"past_deadline_users"`
	// Trend holds the overall percentage per recorded day.
	Trend []TrendPoint `json:"trend"`
}

// TrendPoint is the overall adoption on one day.
type TrendPoint struct {
	Day     string  `json:"day"`
	Percent float64 `json:"percent"`
}

// AdoptionTarget is the business target: over 95% of users enrolled.
const AdoptionTarget = 95.0

// PastDeadline reports whether u, with enrolled methods, should have a
// second factor by now and has none that counts.
func (p Policy) PastDeadline(u *User, enrolled []string, now time.Time) bool {
	if len(enrolled) == 0 && slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(p.MandatoryRoles, r) }) {
		return true
	}
	for _, ph := range p.Rollout {
		if ph.applies(u) && !now.Before(ph.Deadline()) &&
			!slices.ContainsFunc(ph.Methods, func(m string) bool { return slices.Contains(enrolled, m) }) {
			return true
		}
	}
	return false
}

// usersAndMethods returns every user and, per user ID, the methods the
// user has enrolled.
func (s *Service) usersAndMethods(ctx context.Context) ([]*User, map[string][]string, error) {
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	enrolled, err := s.Store.EnrolledMethods(ctx)
	if err != nil {
		return nil, nil, err
	}
	return users, enrolled, nil
}

// Adoption computes adoption per role and overall for enabled users,
// records today's figures, and adds the trend of the last 90 days.
func (s *Service) Adoption(ctx context.Context) (*Adoption, error) {
	users, enrolled, err := s.usersAndMethods(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	rep := &Adoption{Overall: RoleAdoption{Role: "*", ByType: map[string]int{}}, PastDeadline: []string{}}
	byRole := map[string]*RoleAdoption{}
	for _, r := range s.Roles {
		byRole[r] = &RoleAdoption{Role: r, ByType: map[string]int{}}
	}
	for _, u := range users {
		if u.Disabled {
			continue
		}
		methods := enrolled[u.ID]
		past := s.Policy.PastDeadline(u, methods, now)
		if past {
			rep.PastDeadline = append(rep.PastDeadline, u.Username)
		}
		targets := []*RoleAdoption{&rep.Overall}
		for _, r := range u.Roles {
			if byRole[r] != nil {
				targets = append(targets, byRole[r])
			}
		}
		for _, t := range targets {
			t.Total++
			if len(methods) > 0 {
				t.Enrolled++
			}
			if past {
				t.PastDeadline++
			}
			for _, m := range methods {
				t.ByType[m]++
			}
		}
	}
	for _, r := range s.Roles {
		rep.Roles = append(rep.Roles, *byRole[r])
	}
	setPercent(&rep.Overall)
	for i := range rep.Roles {
		setPercent(&rep.Roles[i])
	}
	today := now.Format(time.DateOnly)
	if err := s.Store.SaveAdoption(ctx, today, append([]RoleAdoption{rep.Overall}, rep.Roles...)); err != nil {
		return nil, err
	}
	days, err := s.Store.AdoptionHistory(ctx, now.AddDate(0, 0, -90).Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	for _, d := range days {
		for _, r := range d.Roles {
			if r.Role == "*" {
				setPercent(&r)
				rep.Trend = append(rep.Trend, TrendPoint{Day: d.Day, Percent: r.Percent})
			}
		}
	}
	return rep, nil
}

func setPercent(r *RoleAdoption) {
	if r.Total > 0 {
		r.Percent = float64(int(float64(r.Enrolled)*1000/float64(r.Total))) / 10
	}
}
