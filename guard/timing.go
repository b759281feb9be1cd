package guard

import (
	"math"
	"time"
)

// CheckTimeAnomaly is the original's check_time_anomaly: a TimeAnomaly
// violation when took > floor(expected × cfg.TimeAnomalyMultiplier). The
// original works in whole milliseconds; this works in nanoseconds, so the
// floor only differs below a millisecond. An expected duration ≤ 0 means
// "no expectation" and never reports (the original, given 0, reported
// every command that took any time).
func CheckTimeAnomaly(took, expected time.Duration, cfg Config) []Violation {
	if expected <= 0 {
		return nil
	}
	mult := cfg.timeAnomalyMultiplier()
	limit := math.Floor(float64(expected) * mult)
	if float64(took) > limit {
		return []Violation{newViolation(TimeAnomaly, "", "took %v, more than %g × expected %v", took, mult, expected)}
	}
	return nil
}
