package guard

import (
	"testing"
	"time"
)

func TestCheckTimeAnomaly(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name           string
		took, expected time.Duration
		cfg            Config
		want           int
	}{
		{"at twice expected", 2000 * ms, 1000 * ms, Config{}, 0},
		{"just over twice", 2000*ms + 1, 1000 * ms, Config{}, 1},
		{"floor of expected × multiplier", 1501 * ms, 1001 * ms, Config{TimeAnomalyMultiplier: 1.5}, 0},
		{"custom multiplier", 3100 * ms, 1000 * ms, Config{TimeAnomalyMultiplier: 3}, 1},
		{"fast", 10 * ms, 1000 * ms, Config{}, 0},
		{"no expectation", time.Hour, 0, Config{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := CheckTimeAnomaly(tt.took, tt.expected, tt.cfg)
			if len(vs) != tt.want {
				t.Fatalf("CheckTimeAnomaly(%v, %v) = %v, want %d violations", tt.took, tt.expected, vs, tt.want)
			}
			for _, v := range vs {
				if v.Type != TimeAnomaly || v.Severity != SeverityOf(TimeAnomaly) {
					t.Errorf("violation %+v", v)
				}
			}
		})
	}
}
