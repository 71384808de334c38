package web

import (
	"net/http"
	"slices"
	"sort"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The admin adoption page: second-factor adoption per role, factor types,
// users past their deadline, and the trend toward the target.

// adminPage returns the request's session when it is active, at AAL2, and
// holds one of roles; otherwise it redirects or shows why not, and returns
// nil.
func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, roles []string) *session {
	ss := s.activePage(w, r)
	if ss == nil {
		return nil
	}
	msg := ""
	switch {
	case !slices.ContainsFunc(ss.user.Roles, func(role string) bool { return slices.Contains(roles, role) }):
		msg = "This page is for administrators and auditors."
	case ss.sess.Auth.AAL < ordergate.AAL2:
		msg = "Administration needs a second factor. Set one up, then sign in again with it."
	default:
		return ss
	}
	p := pageFor(ss, "Not allowed")
	p.Error = msg
	p.Data = messageData{Link: "/", LinkText: "Back to the start"}
	if ss.sess.Auth.AAL < ordergate.AAL2 {
		p.Data = messageData{Link: "/account/security", LinkText: "Account security"}
	}
	s.render(w, http.StatusForbidden, "message.html", p)
	return nil
}

// adoptionRow is one role's line on the adoption page.
type adoptionRow struct {
	auth.RoleAdoption
	Types []typeCount
}

// typeCount is how many users have a factor type.
type typeCount struct {
	Label string
	Users int
}

// trendBar is one day of the trend chart, in SVG units.
type trendBar struct {
	Day     string
	Percent float64
	X, Y, H float64
}

// adoptionData is the adoption page.
type adoptionData struct {
	Overall      adoptionRow
	Roles        []adoptionRow
	PastDeadline []string
	Target       float64
	Trend        []trendBar
	// Chart sizes and the target line's height, in SVG units.
	Width, Height, BarWidth, TargetY float64
}

func rowOf(ra auth.RoleAdoption) adoptionRow {
	row := adoptionRow{RoleAdoption: ra}
	for m, n := range ra.ByType {
		label := methodLabels[m]
		if label == "" {
			label = m
		}
		row.Types = append(row.Types, typeCount{Label: label, Users: n})
	}
	sort.Slice(row.Types, func(i, j int) bool { return row.Types[i].Label < row.Types[j].Label })
	return row
}

func (s *Server) handleAdoptionPage(w http.ResponseWriter, r *http.Request) {
	ss := s.adminPage(w, r, readerRoles)
	if ss == nil {
		return
	}
	rep, err := s.Auth.Adoption(r.Context())
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	const height, barWidth, gap = 120.0, 12.0, 4.0
	d := adoptionData{Overall: rowOf(rep.Overall), PastDeadline: rep.PastDeadline, Target: auth.AdoptionTarget,
		Height: height, BarWidth: barWidth, TargetY: height * (1 - auth.AdoptionTarget/100)}
	for _, ra := range rep.Roles {
		d.Roles = append(d.Roles, rowOf(ra))
	}
	for i, tp := range rep.Trend {
		h := height * tp.Percent / 100
		d.Trend = append(d.Trend, trendBar{Day: tp.Day, Percent: tp.Percent, X: float64(i) * (barWidth + gap), Y: height - h, H: h})
	}
	// A month's width at least, so a young trend does not stretch its bars.
	d.Width = float64(max(len(d.Trend), 30)) * (barWidth + gap)
	p := pageFor(ss, "Second-factor adoption")
	p.Data = d
	s.render(w, http.StatusOK, "adoption.html", p)
}
