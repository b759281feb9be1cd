package guard

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NamespaceStatus is the verdict on one namespace of a sandbox.
type NamespaceStatus string

// The verdicts. Private is only ever claimed from evidence: the
// namespace's inode differs from the host's.
const (
	// Private: the namespace differs from the host reference.
	Private NamespaceStatus = "private"
	// Shared: the namespace is the host's, or the machine's initial one.
	Shared NamespaceStatus = "shared"
	// Unknown: there is no evidence either way.
	Unknown NamespaceStatus = "unknown"
)

// RequiredNamespaces returns the namespaces CheckIntegrity always checks
// (names as in /proc/<pid>/ns): pid, mnt, user and net.
func RequiredNamespaces() []string { return []string{"pid", "mnt", "user", "net"} }

// initialInode holds the fixed inode numbers the kernel gives the initial
// namespaces (PROC_*_INIT_INO in include/linux/proc_ns.h). The initial
// mount and network namespaces have no fixed number on older kernels.
var initialInode = map[string]uint64{
	"ipc":    0xEFFFFFFF,
	"uts":    0xEFFFFFFE,
	"user":   0xEFFFFFFD,
	"pid":    0xEFFFFFFC,
	"cgroup": 0xEFFFFFFB,
	"time":   0xEFFFFFFA,
}

// Namespaces maps a namespace name ("pid", "mnt", "user", "net", …) to
// its inode number. The host reads its own with ReadNamespaces and passes
// them into the sandbox (String and ParseNamespaces give a form for an
// environment variable or an argument).
type Namespaces map[string]uint64

// String formats n as "mnt=4026531832,net=4026531833,…", sorted by name.
func (n Namespaces) String() string {
	parts := make([]string, 0, len(n))
	for _, k := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, k+"="+strconv.FormatUint(n[k], 10))
	}
	return strings.Join(parts, ",")
}

// Select returns the entries of n named in names, so that the host passes
// into a sandbox only the namespaces it unshared for it.
func (n Namespaces) Select(names ...string) Namespaces {
	out := Namespaces{}
	for _, name := range names {
		if v, ok := n[name]; ok {
			out[name] = v
		}
	}
	return out
}

// ParseNamespaces parses the String form. Names are lower-case letters
// and underscores; inodes are non-zero decimals; a name may appear once.
func ParseNamespaces(s string) (Namespaces, error) {
	n := Namespaces{}
	if s == "" {
		return n, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, ino, ok := strings.Cut(part, "=")
		if !ok || !validNamespaceName(name) {
			return nil, fmt.Errorf("parse namespaces: bad entry %q: %w", part, ErrParse)
		}
		v, err := strconv.ParseUint(ino, 10, 64)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("parse namespaces: bad inode in %q: %w", part, ErrParse)
		}
		if _, dup := n[name]; dup {
			return nil, fmt.Errorf("parse namespaces: %s given twice: %w", name, ErrParse)
		}
		n[name] = v
	}
	return n, nil
}

func validNamespaceName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}

// parseNamespaceLink parses a /proc/<pid>/ns/<name> link target such as
// "pid:[4026531836]".
func parseNamespaceLink(name, link string) (uint64, error) {
	rest, ok := strings.CutPrefix(link, name+":[")
	if !ok {
		return 0, fmt.Errorf("parse namespace link %q: %w", link, ErrParse)
	}
	digits, ok := strings.CutSuffix(rest, "]")
	v, err := strconv.ParseUint(digits, 10, 64)
	if !ok || err != nil || v == 0 {
		return 0, fmt.Errorf("parse namespace link %q: %w", link, ErrParse)
	}
	return v, nil
}

// IntegrityCheck is the verdict on one namespace.
type IntegrityCheck struct {
	Name   string          `json:"name"`
	Status NamespaceStatus `json:"status"`
	Detail string          `json:"detail"`
}

// IntegrityReport is what CheckIntegrity found. Intact is true only when
// every check is Private.
type IntegrityReport struct {
	Intact    bool             `json:"intact"`
	Checks    []IntegrityCheck `json:"checks"`
	CheckedAt time.Time        `json:"checked_at"`
}

// Violations returns an Integrity violation for every Shared namespace.
// Unknown gives none: not knowing is not the sandboxed code's doing, and
// Intact already refuses the claim.
func (r IntegrityReport) Violations() []Violation {
	var out []Violation
	for _, c := range r.Checks {
		if c.Status == Shared {
			out = append(out, newViolation(Integrity, c.Name, "%s namespace is not private: %s", c.Name, c.Detail))
		}
	}
	return out
}

// judge decides one namespace from the sandbox's own inode (own, or
// ownErr) and the host's reference (0 when absent).
func judge(name string, own uint64, ownErr error, host uint64) IntegrityCheck {
	c := IntegrityCheck{Name: name, Status: Unknown}
	switch init, hasInit := initialInode[name]; {
	case ownErr != nil:
		c.Detail = ownErr.Error()
	case host != 0 && own != host:
		c.Status, c.Detail = Private, fmt.Sprintf("inode %d differs from the host's %d", own, host)
	case host != 0:
		c.Status, c.Detail = Shared, fmt.Sprintf("inode %d is the host's", own)
	case hasInit && own == init:
		c.Status, c.Detail = Shared, fmt.Sprintf("inode %d is the initial %s namespace", own, name)
	case hasInit:
		c.Detail = fmt.Sprintf("inode %d is not the initial namespace, but no host reference was given to compare", own)
	default:
		c.Detail = fmt.Sprintf("inode %d, but no host reference was given to compare", own)
	}
	return c
}

// report builds a report from the checks.
func report(checks []IntegrityCheck, now time.Time) IntegrityReport {
	intact := len(checks) > 0
	for _, c := range checks {
		intact = intact && c.Status == Private
	}
	return IntegrityReport{Intact: intact, Checks: checks, CheckedAt: now.UTC()}
}

// checkNames returns RequiredNamespaces followed by the other names in
// host, sorted.
func checkNames(host Namespaces) []string {
	names := RequiredNamespaces()
	for _, k := range slices.Sorted(maps.Keys(host)) {
		if !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	return names
}
