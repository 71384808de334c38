// Package risk scores the context of a login or a sensitive action and maps
// the score to a decision: allow, require a second factor, require a
// phishing-resistant factor, or deny. It is pure: callers gather the
// signals (from the database, the GeoIP file, the request) and the engine
// only weighs them, so every decision can be explained and replayed.
package risk

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/ordergate/ordergate"
)

// Reasons a score can carry, as they appear in login answers, the session's
// authentication context and the audit log.
const (
	ReasonNewDevice        = "risk:new_device"
	ReasonNewNetwork       = "risk:new_network"
	ReasonNewCountry       = "risk:new_country"
	ReasonImpossibleTravel = "risk:impossible_travel"
	ReasonUnusualHour      = "risk:unusual_hour"
	ReasonRecentFailures   = "risk:recent_failures"
	ReasonRemote           = "risk:remote"
	ReasonUnusualAmount    = "risk:unusual_amount"
)

// Decision is what a score demands.
type Decision string

// Decisions, from the most lenient to the strictest.
const (
	Allow             Decision = "allow"
	SecondFactor      Decision = "second_factor"
	PhishingResistant Decision = "phishing_resistant"
	Deny              Decision = "deny"
)

var order = map[Decision]int{Allow: 0, SecondFactor: 1, PhishingResistant: 2, Deny: 3}

// Strictest returns the stricter of a and b.
func Strictest(a, b Decision) Decision {
	if order[b] > order[a] {
		return b
	}
	return a
}

// AtLeast reports whether d is as strict as min or stricter.
func (d Decision) AtLeast(min Decision) bool { return order[d] >= order[min] }

// Thresholds map a score (0..100) to a decision: a score at or above a
// threshold gets that decision.
type Thresholds struct {
	SecondFactor      int
	PhishingResistant int
	Deny              int
}

// Weights are the points each reason adds to the score.
type Weights map[string]int

// DefaultWeights are chosen so that one weak signal alone allows, two or
// three together ask for a second factor, and impossible travel from a new
// device and network denies.
var DefaultWeights = Weights{
	ReasonNewDevice:        15,
	ReasonNewNetwork:       15,
	ReasonNewCountry:       25,
	ReasonImpossibleTravel: 60,
	ReasonUnusualHour:      10,
	ReasonRecentFailures:   20,
	ReasonRemote:           10,
	ReasonUnusualAmount:    40,
}

// Config tunes the engine.
type Config struct {
	Thresholds Thresholds
	// ImpossibleTravelKMH is the fastest plausible travel speed.
	ImpossibleTravelKMH float64
	// TravelToleranceKM is subtracted from every distance: country
	// centroids and GeoIP data are only that precise.
	TravelToleranceKM float64
	// MinHourHistory is how many past logins the unusual-hour signal needs.
	MinHourHistory int
	// AccountFailures and AddressFailures are the recent failure counts at
	// which the recent-failures signal counts.
	AccountFailures int
	AddressFailures int
	// Weights overrides DefaultWeights per reason.
	Weights Weights
}

// DefaultConfig is the configuration file's default.
var DefaultConfig = Config{
	Thresholds:          Thresholds{SecondFactor: 40, PhishingResistant: 70, Deny: 90},
	ImpossibleTravelKMH: 900,
	TravelToleranceKM:   200,
	MinHourHistory:      10,
	AccountFailures:     3,
	AddressFailures:     10,
}

// Location is where an address is, as far as GeoIP knows.
type Location struct {
	// Country is an ISO 3166-1 alpha-2 code; empty when unknown.
	Country string
	// Lat and Lon are degrees; valid when HasCoords is true.
	Lat, Lon  float64
	HasCoords bool
}

// Login is one past, completed login of the user.
type Login struct {
	At       time.Time
	Location Location
}

// Signals are the facts about one login or action.
type Signals struct {
	// DeviceKnown is true when the signed device cookie names a device
	// this user completed a login from before.
	DeviceKnown bool
	// NetworkKnown is true when the client's /24 (IPv4) or /48 (IPv6) is
	// one the user completed a login from before.
	NetworkKnown bool
	// Remote is true when the client is outside the trusted networks.
	Remote bool
	// Location is the client's; a zero value turns the country signals off.
	Location Location
	// History holds the user's past completed logins, newest first.
	History []Login
	// AccountFailures and AddressFailures count recent failed logins for
	// the account and from the client address.
	AccountFailures int
	AddressFailures int
	// Amount and PastAmounts feed the unusual-amount signal of order
	// actions (minor units, one currency); zero Amount turns it off.
	Amount      int64
	PastAmounts []int64
}

// Factor is one reason with its points and a human explanation.
type Factor struct {
	Reason string `json:"reason"`
	Points int    `json:"points"`
	Detail string `json:"detail"`
}

// Assessment is the engine's answer: a score, the decision it maps to, and
// the factors that explain it.
type Assessment struct {
	Score    int      `json:"score"`
	Decision Decision `json:"decision"`
	Factors  []Factor `json:"factors"`
}

// Reasons lists the assessment's reasons in order.
func (a Assessment) Reasons() []string {
	out := make([]string, 0, len(a.Factors))
	for _, f := range a.Factors {
		out = append(out, f.Reason)
	}
	return out
}

// Engine weighs signals into an assessment.
type Engine struct {
	Config Config
	Clock  ordergate.Clock
}

// New returns an engine; zero fields of cfg take DefaultConfig's values.
func New(cfg Config, clock ordergate.Clock) *Engine {
	d := DefaultConfig
	if cfg.Thresholds == (Thresholds{}) {
		cfg.Thresholds = d.Thresholds
	}
	if cfg.ImpossibleTravelKMH <= 0 {
		cfg.ImpossibleTravelKMH = d.ImpossibleTravelKMH
	}
	if cfg.TravelToleranceKM <= 0 {
		cfg.TravelToleranceKM = d.TravelToleranceKM
	}
	if cfg.MinHourHistory <= 0 {
		cfg.MinHourHistory = d.MinHourHistory
	}
	if cfg.AccountFailures <= 0 {
		cfg.AccountFailures = d.AccountFailures
	}
	if cfg.AddressFailures <= 0 {
		cfg.AddressFailures = d.AddressFailures
	}
	return &Engine{Config: cfg, Clock: clock}
}

func (e *Engine) weight(reason string) int {
	if w, ok := e.Config.Weights[reason]; ok {
		return w
	}
	return DefaultWeights[reason]
}

// Decide maps a score to a decision by the thresholds.
func (e *Engine) Decide(score int) Decision {
	t := e.Config.Thresholds
	switch {
	case score >= t.Deny:
		return Deny
	case score >= t.PhishingResistant:
		return PhishingResistant
	case score >= t.SecondFactor:
		return SecondFactor
	default:
		return Allow
	}
}

// Assess weighs s at the engine clock's current time.
func (e *Engine) Assess(s Signals) Assessment {
	now := e.Clock.Now()
	var a Assessment
	add := func(reason, detail string) {
		w := e.weight(reason)
		a.Factors = append(a.Factors, Factor{Reason: reason, Points: w, Detail: detail})
		a.Score += w
	}
	if !s.DeviceKnown {
		add(ReasonNewDevice, "no completed login from this browser")
	}
	if !s.NetworkKnown {
		add(ReasonNewNetwork, "no completed login from this network")
	}
	if c := s.Location.Country; c != "" && len(s.History) > 0 && !seenCountry(s.History, c) {
		add(ReasonNewCountry, fmt.Sprintf("first login from %s", c))
	}
	if detail, ok := e.impossibleTravel(s, now); ok {
		add(ReasonImpossibleTravel, detail)
	}
	if detail, ok := e.unusualHour(s.History, now); ok {
		add(ReasonUnusualHour, detail)
	}
	if s.AccountFailures >= e.Config.AccountFailures || s.AddressFailures >= e.Config.AddressFailures {
		add(ReasonRecentFailures, fmt.Sprintf("%d recent failures for the account, %d from the address", s.AccountFailures, s.AddressFailures))
	}
	if s.Remote {
		add(ReasonRemote, "client outside the trusted networks")
	}
	if s.Amount > 0 {
		if detail, ok := UnusualAmount(s.PastAmounts, s.Amount); ok {
			add(ReasonUnusualAmount, detail)
		}
	}
	a.Score = min(max(a.Score, 0), 100)
	a.Decision = e.Decide(a.Score)
	return a
}

func seenCountry(h []Login, c string) bool {
	return slices.ContainsFunc(h, func(l Login) bool { return l.Location.Country == c })
}

// impossibleTravel compares this location with the newest past login that
// has coordinates.
func (e *Engine) impossibleTravel(s Signals, now time.Time) (string, bool) {
	if !s.Location.HasCoords {
		return "", false
	}
	for _, l := range s.History {
		if !l.Location.HasCoords {
			continue
		}
		km := DistanceKM(l.Location, s.Location)
		far := km - e.Config.TravelToleranceKM
		if far <= 0 {
			return "", false
		}
		hours := now.Sub(l.At).Hours()
		if hours > 0 && far/hours <= e.Config.ImpossibleTravelKMH {
			return "", false
		}
		return fmt.Sprintf("%.0f km from %s in %s (limit %.0f km/h)", km, orUnknown(l.Location.Country),
			now.Sub(l.At).Round(time.Minute), e.Config.ImpossibleTravelKMH), true
	}
	return "", false
}

func orUnknown(c string) string {
	if c == "" {
		return "an unknown country"
	}
	return c
}

// unusualHour reports a login at an hour (UTC) when the user, with enough
// history, has never logged in within an hour either side.
func (e *Engine) unusualHour(h []Login, now time.Time) (string, bool) {
	if len(h) < e.Config.MinHourHistory {
		return "", false
	}
	hour := now.UTC().Hour()
	for _, l := range h {
		d := (l.At.UTC().Hour() - hour + 24) % 24
		if d <= 1 || d >= 23 {
			return "", false
		}
	}
	return fmt.Sprintf("no login between %02d:00 and %02d:59 UTC in the last %d", (hour+23)%24, (hour+1)%24, len(h)), true
}

// Amount rule: at least MinAmountHistory past approvals, and the amount is
// above every one of them and more than AmountFactor times their median.
const (
	MinAmountHistory = 5
	AmountFactor     = 3
)

// UnusualAmount reports whether amount is far above a user's usual
// approvals (past, in minor units of one currency), with an explanation.
// With fewer than MinAmountHistory past amounts it never reports.
func UnusualAmount(past []int64, amount int64) (string, bool) {
	if len(past) < MinAmountHistory {
		return "", false
	}
	s := slices.Clone(past)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if amount <= s[len(s)-1] || float64(amount) <= AmountFactor*float64(median) {
		return "", false
	}
	return fmt.Sprintf("amount %d is above the largest of %d past approvals (%d) and %d times their median (%d)",
		amount, len(s), s[len(s)-1], AmountFactor, median), true
}

// earthRadiusKM is the mean Earth radius (IUGG).
const earthRadiusKM = 6371.0088

// DistanceKM returns the great-circle distance between a and b by the
// haversine formula.
func DistanceKM(a, b Location) float64 {
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	dLat, dLon := rad(b.Lat-a.Lat), rad(b.Lon-a.Lon)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(rad(a.Lat))*math.Cos(rad(b.Lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Network returns the network a client address is learned as: its /24 for
// IPv4 (IPv4-mapped IPv6 included) and its /48 for IPv6. It returns the
// zero Prefix for an invalid address.
func Network(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}
