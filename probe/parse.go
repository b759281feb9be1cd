package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Status is what the probe reads from /proc/self/status.
type Status struct {
	CapEff, CapPrm, CapBnd, CapAmb, CapInh uint64
	NoNewPrivs                             int
	// Seccomp is the mode: 0 off, 1 strict, 2 filter; -1 when the kernel
	// does not report it.
	Seccomp int
	// Fields holds every "Key:\tvalue" line, trimmed.
	Fields map[string]string
}

// Cap returns the capability set named "CapEff", "CapPrm", "CapBnd",
// "CapAmb" or "CapInh".
func (s Status) Cap(name string) (uint64, bool) {
	switch name {
	case "CapEff":
		return s.CapEff, true
	case "CapPrm":
		return s.CapPrm, true
	case "CapBnd":
		return s.CapBnd, true
	case "CapAmb":
		return s.CapAmb, true
	case "CapInh":
		return s.CapInh, true
	}
	return 0, false
}

// ParseStatus parses /proc/<pid>/status. The five capability sets are
// required (hex, as the kernel prints them); NoNewPrivs and Seccomp are
// optional, since old kernels lack them.
func ParseStatus(b []byte) (Status, error) {
	st := Status{Seccomp: -1, Fields: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		st.Fields[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("%w: status: %w", ErrParse, err)
	}
	for _, c := range []struct {
		name string
		dst  *uint64
	}{{"CapEff", &st.CapEff}, {"CapPrm", &st.CapPrm}, {"CapBnd", &st.CapBnd}, {"CapAmb", &st.CapAmb}, {"CapInh", &st.CapInh}} {
		v, ok := st.Fields[c.name]
		if !ok {
			return st, fmt.Errorf("%w: status: no %s line", ErrParse, c.name)
		}
		n, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			return st, fmt.Errorf("%w: status: %s %q: %w", ErrParse, c.name, v, err)
		}
		*c.dst = n
	}
	for _, c := range []struct {
		name string
		dst  *int
	}{{"NoNewPrivs", &st.NoNewPrivs}, {"Seccomp", &st.Seccomp}} {
		v, ok := st.Fields[c.name]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return st, fmt.Errorf("%w: status: %s %q", ErrParse, c.name, v)
		}
		*c.dst = n
	}
	return st, nil
}

// ParseNSLink parses the target of a /proc/<pid>/ns/<name> link, such as
// "pid:[4026531836]", into its type and inode number.
func ParseNSLink(s string) (string, uint64, error) {
	name, rest, ok := strings.Cut(s, ":[")
	if !ok || name == "" || !strings.HasSuffix(rest, "]") {
		return "", 0, fmt.Errorf("%w: namespace link %q", ErrParse, s)
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	if err != nil || ino == 0 {
		return "", 0, fmt.Errorf("%w: namespace link %q", ErrParse, s)
	}
	return name, ino, nil
}

// IDMapping is one line of /proc/<pid>/uid_map or gid_map.
type IDMapping struct {
	Inside, Outside, Count uint32
}

// ParseIDMap parses /proc/<pid>/uid_map or gid_map.
func ParseIDMap(b []byte) ([]IDMapping, error) {
	var out []IDMapping
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: id map line %q", ErrParse, strings.TrimSpace(line))
		}
		var n [3]uint32
		for i, s := range f {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: id map line %q: %w", ErrParse, strings.TrimSpace(line), err)
			}
			n[i] = uint32(v)
		}
		out = append(out, IDMapping{Inside: n[0], Outside: n[1], Count: n[2]})
	}
	return out, nil
}

// MapID returns the outside id that inside id maps to.
func MapID(m []IDMapping, id uint32) (uint32, bool) {
	for _, l := range m {
		if id >= l.Inside && uint64(id) < uint64(l.Inside)+uint64(l.Count) {
			return l.Outside + (id - l.Inside), true
		}
	}
	return 0, false
}

// CgroupEntry is one line of /proc/<pid>/cgroup.
type CgroupEntry struct {
	Hierarchy   int
	Controllers []string // empty for the v2 unified hierarchy
	Path        string
}

// ParseCgroup parses /proc/<pid>/cgroup.
func ParseCgroup(b []byte) ([]CgroupEntry, error) {
	var out []CgroupEntry
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			return nil, fmt.Errorf("%w: cgroup line %q", ErrParse, line)
		}
		h, err := strconv.Atoi(parts[0])
		if err != nil || h < 0 {
			return nil, fmt.Errorf("%w: cgroup line %q", ErrParse, line)
		}
		e := CgroupEntry{Hierarchy: h, Path: parts[2]}
		if parts[1] != "" {
			e.Controllers = strings.Split(parts[1], ",")
		}
		out = append(out, e)
	}
	return out, nil
}

// unlimitedV1 is the smallest value cgroup v1 reports for "no limit" in
// memory.limit_in_bytes (PAGE_COUNTER_MAX pages, rounded down to a page).
const unlimitedV1 = 1 << 62

// ParseLimit parses a cgroup limit file: "max" (v2) or a number, where
// v1's huge "no limit" values also count as unlimited. It returns 0 for
// unlimited.
func ParseLimit(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 cpu.cfs_quota_us is -1 for no limit.
		if s == "-1" {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: limit %q", ErrParse, s)
	}
	if n >= unlimitedV1 {
		return 0, nil
	}
	return n, nil
}

// ParseCPUMax parses cgroup v2's cpu.max ("quota period" or "max
// period") into CPUs; 0 means unlimited.
func ParseCPUMax(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, fmt.Errorf("%w: cpu.max %q", ErrParse, s)
	}
	period, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || period == 0 {
		return 0, fmt.Errorf("%w: cpu.max %q", ErrParse, s)
	}
	if f[0] == "max" {
		return 0, nil
	}
	quota, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: cpu.max %q", ErrParse, s)
	}
	return float64(quota) / float64(period), nil
}

// cpuQuota turns a v1 quota and period into CPUs (0 when unlimited).
func cpuQuota(quota, period uint64) float64 {
	if quota == 0 || period == 0 {
		return 0
	}
	return math.Round(float64(quota)/float64(period)*1000) / 1000
}

// ParseNetDev returns the interface names listed in /proc/net/dev, which
// shows the interfaces of the reader's network namespace.
func ParseNetDev(b []byte) ([]string, error) {
	var names []string
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") {
			continue // the two header lines
		}
		name = strings.TrimSpace(name)
		if name == "" || len(strings.Fields(rest)) < 16 {
			return nil, fmt.Errorf("%w: net/dev line %q", ErrParse, strings.TrimSpace(line))
		}
		names = append(names, name)
	}
	return names, nil
}

// cpuWithin decides the CPU check: the CPU the busy threads got may
// exceed the limit by 25% of it plus 0.05 CPU. A CFS quota grants
// limit×P per period P (kavach's P is 100 ms), and a window of W = 800
// ms that does not start on a period's edge can take in one more
// period's quota: limit×P/W, 12.5% of the limit. The rest is room for
// the window's timing and, on the host's kernel, the Go runtime's own
// threads, which getrusage counts too. A host so loaded that the threads
// get less than the limit anyway cannot contradict the claim, and
// passes.
func cpuWithin(rate, limit float64) bool { return rate <= limit*1.25+0.05 }

// cpuDecidable reports whether the CPU check can tell a limit from none
// on n CPUs. The work figure divides by the speed of short bursts, which
// runs 2–4% above the sustained speed (measured against getrusage on the
// host's kernel), so threads without a limit on an idle host show about
// 0.96 of the n CPUs they get; where even 0.95n is within the limit's
// margin, a pass would prove nothing.
func cpuDecidable(n int, limit float64) bool { return !cpuWithin(0.95*float64(n), limit) }

// ParseMeminfo parses /proc/meminfo into byte counts by field name; it
// requires MemTotal and MemAvailable.
func ParseMeminfo(b []byte) (map[string]uint64, error) {
	m := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 || len(f) > 2 || len(f) == 2 && f[1] != "kB" {
			return nil, fmt.Errorf("%w: meminfo line %q", ErrParse, strings.TrimSpace(line))
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: meminfo line %q", ErrParse, strings.TrimSpace(line))
		}
		if len(f) == 2 {
			if n > math.MaxUint64/1024 {
				return nil, fmt.Errorf("%w: meminfo line %q", ErrParse, strings.TrimSpace(line))
			}
			n *= 1024
		}
		m[k] = n
	}
	for _, k := range []string{"MemTotal", "MemAvailable"} {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("%w: meminfo has no %s line", ErrParse, k)
		}
	}
	return m, nil
}

// throttled returns nr_throttled from a cgroup cpu.stat file (v1 and v2
// name it alike): how many CFS periods ended with the group throttled.
func throttled(stat string) (uint64, bool) {
	for line := range strings.Lines(stat) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == "nr_throttled" {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
