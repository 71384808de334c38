package risk_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/risk"
)

// fixedClock is a clock that stands still.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

var (
	now    = time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	london = risk.Location{Country: "GB", Lat: 51.5074, Lon: -0.1278, HasCoords: true}
	paris  = risk.Location{Country: "FR", Lat: 48.8566, Lon: 2.3522, HasCoords: true}
	sydney = risk.Location{Country: "AU", Lat: -33.8688, Lon: 151.2093, HasCoords: true}
)

// history returns n logins at 09:00–11:00 UTC on the days before now, all
// from loc, the newest last (ago before now).
func history(n int, loc risk.Location, ago time.Duration) []risk.Login {
	var h []risk.Login
	for i := 0; i < n; i++ {
		h = append(h, risk.Login{At: now.Add(-ago - time.Duration(i)*24*time.Hour).Add(-time.Duration(i%3) * 30 * time.Minute), Location: loc})
	}
	return h
}

func TestAssess(t *testing.T) {
	known := risk.Signals{DeviceKnown: true, NetworkKnown: true, Location: london, History: history(12, london, 24*time.Hour)}
	with := func(f func(*risk.Signals)) risk.Signals {
		s := known
		s.History = slices.Clone(known.History)
		f(&s)
		return s
	}
	tests := []struct {
		name     string
		at       time.Time
		signals  risk.Signals
		reasons  []string
		decision risk.Decision
	}{
		{"known everything", now, known, nil, risk.Allow},
		{"first login ever", now, risk.Signals{}, []string{risk.ReasonNewDevice, risk.ReasonNewNetwork}, risk.Allow},
		{"new device and network", now, with(func(s *risk.Signals) { s.DeviceKnown, s.NetworkKnown = false, false }),
			[]string{risk.ReasonNewDevice, risk.ReasonNewNetwork}, risk.Allow},
		{"remote from new device and network", now, with(func(s *risk.Signals) { s.DeviceKnown, s.NetworkKnown, s.Remote = false, false, true }),
			[]string{risk.ReasonNewDevice, risk.ReasonNewNetwork, risk.ReasonRemote}, risk.SecondFactor},
		{"new country, plausible travel", now, with(func(s *risk.Signals) { s.NetworkKnown, s.Location = false, paris }),
			[]string{risk.ReasonNewNetwork, risk.ReasonNewCountry}, risk.SecondFactor},
		{"impossible travel to Sydney in an hour", now, with(func(s *risk.Signals) {
			s.DeviceKnown, s.NetworkKnown, s.Location = false, false, sydney
			s.History[0].At = now.Add(-time.Hour)
		}), []string{risk.ReasonNewDevice, risk.ReasonNewNetwork, risk.ReasonNewCountry, risk.ReasonImpossibleTravel}, risk.Deny},
		{"Sydney two days later is possible", now, with(func(s *risk.Signals) { s.NetworkKnown, s.Location = false, sydney }),
			[]string{risk.ReasonNewNetwork, risk.ReasonNewCountry}, risk.SecondFactor},
		{"neighbouring country within tolerance", now, with(func(s *risk.Signals) {
			s.Location = risk.Location{Country: "FR", Lat: 50.9513, Lon: 1.8587, HasCoords: true} // Calais
			s.History[0].At = now.Add(-time.Minute)
		}), []string{risk.ReasonNewCountry}, risk.Allow},
		{"unusual hour", now.Add(-7 * time.Hour), known, []string{risk.ReasonUnusualHour}, risk.Allow},
		{"usual hour at the window edge", now.Add(time.Hour), known, nil, risk.Allow},
		{"too little history for the hour", now.Add(-7 * time.Hour), with(func(s *risk.Signals) { s.History = s.History[:9] }), nil, risk.Allow},
		{"account failures", now, with(func(s *risk.Signals) { s.AccountFailures = 3 }), []string{risk.ReasonRecentFailures}, risk.Allow},
		{"address failures", now, with(func(s *risk.Signals) { s.AddressFailures = 10 }), []string{risk.ReasonRecentFailures}, risk.Allow},
		{"few failures", now, with(func(s *risk.Signals) { s.AccountFailures, s.AddressFailures = 2, 9 }), nil, risk.Allow},
		{"unusual amount", now, with(func(s *risk.Signals) { s.Amount, s.PastAmounts = 900000, []int64{10000, 12000, 9000, 15000, 11000} }),
			[]string{risk.ReasonUnusualAmount}, risk.SecondFactor},
		{"everything at once", now.Add(-7 * time.Hour), risk.Signals{Remote: true, Location: sydney, History: history(12, london, time.Hour-7*time.Hour), AccountFailures: 9},
			[]string{risk.ReasonNewDevice, risk.ReasonNewNetwork, risk.ReasonNewCountry, risk.ReasonImpossibleTravel, risk.ReasonUnusualHour, risk.ReasonRecentFailures, risk.ReasonRemote}, risk.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := risk.New(risk.Config{}, fixedClock(tt.at))
			a := e.Assess(tt.signals)
			if got := a.Reasons(); !slices.Equal(got, tt.reasons) && !(len(got) == 0 && len(tt.reasons) == 0) {
				t.Errorf("Assess reasons = %v, want %v (factors %+v)", got, tt.reasons, a.Factors)
			}
			if a.Decision != tt.decision {
				t.Errorf("Assess decision = %s (score %d), want %s", a.Decision, a.Score, tt.decision)
			}
			sum := 0
			for _, f := range a.Factors {
				sum += f.Points
				if f.Detail == "" {
					t.Errorf("factor %s has no explanation", f.Reason)
				}
			}
			if want := min(sum, 100); a.Score != want {
				t.Errorf("Score = %d, want the sum of the factors' points %d", a.Score, want)
			}
		})
	}
}

func TestDecideThresholds(t *testing.T) {
	e := risk.New(risk.Config{Thresholds: risk.Thresholds{SecondFactor: 20, PhishingResistant: 50, Deny: 80}}, fixedClock(now))
	tests := []struct {
		score int
		want  risk.Decision
	}{{0, risk.Allow}, {19, risk.Allow}, {20, risk.SecondFactor}, {49, risk.SecondFactor}, {50, risk.PhishingResistant}, {80, risk.Deny}, {100, risk.Deny}}
	for _, tt := range tests {
		if got := e.Decide(tt.score); got != tt.want {
			t.Errorf("Decide(%d) = %s, want %s", tt.score, got, tt.want)
		}
	}
}

func TestWeightsOverride(t *testing.T) {
	e := risk.New(risk.Config{Weights: risk.Weights{risk.ReasonNewDevice: 95}}, fixedClock(now))
	a := e.Assess(risk.Signals{NetworkKnown: true})
	if a.Score != 95 || a.Decision != risk.Deny {
		t.Errorf("Assess with new_device weight 95 = score %d decision %s, want 95 deny", a.Score, a.Decision)
	}
}

func TestImpossibleTravelSpeed(t *testing.T) {
	// London–Paris is about 344 km; minus the 200 km tolerance, 144 km.
	tests := []struct {
		elapsed time.Duration
		kmh     float64
		want    bool
	}{
		{time.Hour, 900, false},
		{5 * time.Minute, 900, true}, // 144 km in 5 min = 1728 km/h
		{10 * time.Minute, 900, false},
		{10 * time.Minute, 500, true},
		{0, 900, true},
	}
	for _, tt := range tests {
		e := risk.New(risk.Config{ImpossibleTravelKMH: tt.kmh}, fixedClock(now))
		a := e.Assess(risk.Signals{DeviceKnown: true, NetworkKnown: true, Location: paris,
			History: []risk.Login{{At: now.Add(-tt.elapsed), Location: london}}})
		if got := slices.Contains(a.Reasons(), risk.ReasonImpossibleTravel); got != tt.want {
			t.Errorf("London→Paris in %v at limit %v km/h: impossible = %v, want %v", tt.elapsed, tt.kmh, got, tt.want)
		}
	}
}

func TestDistanceKM(t *testing.T) {
	tests := []struct {
		a, b     risk.Location
		min, max float64
	}{
		{london, paris, 340, 346},
		{london, sydney, 16980, 17000},
		{paris, paris, 0, 0.001},
	}
	for _, tt := range tests {
		if got := risk.DistanceKM(tt.a, tt.b); got < tt.min || got > tt.max {
			t.Errorf("DistanceKM(%s, %s) = %.1f, want in [%v, %v]", tt.a.Country, tt.b.Country, got, tt.min, tt.max)
		}
	}
}

func TestUnusualAmount(t *testing.T) {
	usual := []int64{10000, 12000, 9000, 15000, 11000}
	tests := []struct {
		name   string
		past   []int64
		amount int64
		want   bool
	}{
		{"too little history", usual[:4], 1 << 40, false},
		{"usual", usual, 14000, false},
		{"above max but under three medians", usual, 30000, false},
		{"far above", usual, 40000, true},
		{"even history", append(usual, 13000), 40000, true},
	}
	for _, tt := range tests {
		detail, got := risk.UnusualAmount(tt.past, tt.amount)
		if got != tt.want {
			t.Errorf("%s: UnusualAmount(%v, %d) = %v, want %v", tt.name, tt.past, tt.amount, got, tt.want)
		}
		if got && !strings.Contains(detail, "median") {
			t.Errorf("%s: explanation %q does not say why", tt.name, detail)
		}
	}
}

func TestNetwork(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.77", "192.0.2.0/24"},
		{"::ffff:198.51.100.9", "198.51.100.0/24"},
		{"2001:db8:abcd:12::1", "2001:db8:abcd::/48"},
	}
	for _, tt := range tests {
		if got := risk.Network(netip.MustParseAddr(tt.in)).String(); got != tt.want {
			t.Errorf("Network(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := risk.Network(netip.Addr{}); got.IsValid() {
		t.Errorf("Network(invalid) = %v, want the zero prefix", got)
	}
}

func TestStrictest(t *testing.T) {
	if got := risk.Strictest(risk.SecondFactor, risk.Allow); got != risk.SecondFactor {
		t.Errorf("Strictest(second_factor, allow) = %s", got)
	}
	if got := risk.Strictest(risk.PhishingResistant, risk.Deny); got != risk.Deny {
		t.Errorf("Strictest(phishing_resistant, deny) = %s", got)
	}
	if !risk.Deny.AtLeast(risk.SecondFactor) || risk.Allow.AtLeast(risk.SecondFactor) {
		t.Errorf("AtLeast is wrong")
	}
}
