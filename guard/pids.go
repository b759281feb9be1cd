package guard

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// PidsStat is what a pids cgroup reports. cgroup v1 (the pids controller
// directory, e.g. /sys/fs/cgroup/pids/<group>) and v2 (the group's
// directory in the unified hierarchy) use the same file names and formats.
type PidsStat struct {
	// Current is pids.current: tasks in the group now.
	Current int64 `json:"current"`
	// Max is pids.max, or -1 for "max" (no limit).
	Max int64 `json:"max"`
	// MaxEvents is the "max" counter of pids.events: how many times a fork
	// or clone failed because of pids.max. -1 when pids.events is absent.
	MaxEvents int64 `json:"max_events"`
	// Peak is pids.peak (Linux 6.1+), or -1 when absent.
	Peak int64 `json:"peak"`
}

// ReadPids reads the pids counters of the cgroup directory dir. A
// directory without pids.current is ErrNotPidsCgroup.
func ReadPids(ctx context.Context, dir string) (PidsStat, error) {
	if err := ctx.Err(); err != nil {
		return PidsStat{}, fmt.Errorf("read pids %s: %w", dir, err)
	}
	r, err := OpenPids(dir)
	if err != nil {
		return PidsStat{}, err
	}
	defer r.Close()
	return r.Read(ctx)
}

// parsePidsValue parses a non-negative decimal, or "max" as -1.
func parsePidsValue(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parse pids value %q: %w", s, ErrParse)
	}
	return n, nil
}

// ParsePidsEvents returns the "max" counter of a pids.events file ("max
// 3\n"; newer kernels add other keys, which are ignored). A file without a
// "max" line, or with a malformed one, is ErrParse.
func ParsePidsEvents(s string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok || key != "max" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("parse pids.events max %q: %w", value, ErrParse)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("parse pids.events: %v: %w", err, ErrParse)
	}
	return 0, fmt.Errorf("parse pids.events: no max line: %w", ErrParse)
}

// CheckForkBomb is the original's check_fork_bomb: a ForkBomb violation
// when current exceeds cfg.MaxPids.
func CheckForkBomb(current int64, cfg Config) []Violation {
	if limit := int64(cfg.maxPids()); current > limit {
		return []Violation{newViolation(ForkBomb, "", "process count %d exceeds max_pids %d", current, limit)}
	}
	return nil
}

// CheckPids reports, from a cgroup's counters, every sign of a fork bomb:
// forks refused by pids.max (MaxEvents > 0), pids.current at or above
// cfg.PidsNearFraction of a finite pids.max, and the original's
// CheckForkBomb on pids.current.
func CheckPids(st PidsStat, cfg Config) []Violation {
	var out []Violation
	if st.MaxEvents > 0 {
		out = append(out, newViolation(ForkBomb, "pids.events", "pids limit %s hit: %d fork(s) refused (pids.current %d)", limitString(st.Max), st.MaxEvents, st.Current))
	}
	if frac := cfg.pidsNearFraction(); st.Max > 0 && float64(st.Current) >= frac*float64(st.Max) {
		out = append(out, newViolation(ForkBomb, "pids.current", "pids.current %d is at least %g of pids.max %d", st.Current, frac, st.Max))
	}
	return append(out, CheckForkBomb(st.Current, cfg)...)
}

func limitString(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// CheckCgroupPids reads the pids counters of the cgroup directory dir and
// checks them with CheckPids.
func CheckCgroupPids(ctx context.Context, dir string, cfg Config) ([]Violation, PidsStat, error) {
	st, err := ReadPids(ctx, dir)
	if err != nil {
		return nil, st, err
	}
	return CheckPids(st, cfg), st, nil
}
