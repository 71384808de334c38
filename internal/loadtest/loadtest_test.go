package loadtest

import (
	"errors"
	"testing"
	"time"
)

func TestUsableStep(t *testing.T) {
	// Step 1000 runs from 30000 s to 30030 s after the epoch.
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	tests := []struct {
		name     string
		last     int64
		now      time.Time
		wantStep int64
		wantOK   bool
	}{
		{"fresh user takes the previous step", 0, at(30010), 999, true},
		{"after the previous step, the current one", 999, at(30010), 1000, true},
		{"after the current step, the next one", 1000, at(30010), 1001, true},
		{"all three used: wait", 1001, at(30010), 1002, false},
		{"previous step about to leave the window", 0, at(30028), 1000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := usableStep(&totpUser{lastStep: tc.last}, tc.now)
			if step != tc.wantStep || ok != tc.wantOK {
				t.Errorf("usableStep(last %d, %v) = %d, %v, want %d, %v", tc.last, tc.now.Unix(), step, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Config{URLs: []string{"http://127.0.0.1:8080/"}, Scenario: ScenarioMixed, Users: 1, Concurrency: 1, Duration: time.Second, Requests: 1}
	tests := []struct {
		name   string
		change func(c *Config)
		bad    bool
	}{
		{"valid", func(c *Config) {}, false},
		{"unknown scenario", func(c *Config) { c.Scenario = "stampede" }, true},
		{"no URL", func(c *Config) { c.URLs = nil }, true},
		{"URL without scheme", func(c *Config) { c.URLs = []string{"127.0.0.1:8080"} }, true},
		{"zero users", func(c *Config) { c.Users = 0 }, true},
		{"negative concurrency", func(c *Config) { c.Concurrency = -2 }, true},
		{"zero duration", func(c *Config) { c.Duration = 0 }, true},
		{"zero requests", func(c *Config) { c.Requests = 0 }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.URLs = append([]string(nil), ok.URLs...)
			tc.change(&c)
			err := Check(c)
			if got := errors.Is(err, ErrConfig); got != tc.bad {
				t.Errorf("Check() = %v, want a configuration error: %v", err, tc.bad)
			}
		})
	}
}
