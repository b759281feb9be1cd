// Package score computes kavach's isolation strength score: one number
// from 0 to 100 with a label, and the reasons behind every point.
//
// The formula and labels are kavach 1.0's (spec §3), so numbers mean the
// same thing: a base per backend kind plus +5 seccomp, +3 Landlock rules,
// +5 network off, +3 read-only root and +2 memory or CPU limit, clamped
// to 0..100. [Policy] scores a requested policy exactly as the original
// did; [Enforced] scores only what a sandbox really applied, which is what
// kavach reports everywhere. The package is pure: no I/O.
package score

import (
	"fmt"
	"strings"

	"github.com/kavach-go/kavach/policy"
)

// Score is a strength score with its reasons.
type Score struct {
	Value   int      `json:"value"`
	Label   string   `json:"label"`
	Reasons []string `json:"reasons"`
}

// String formats the score as the original does: "65 (standard)".
func (s Score) String() string { return fmt.Sprintf("%d (%s)", s.Value, s.Label) }

// Label names a score band: minimal below 30, basic below 50, standard
// below 70, hardened below 85, fortress up to 100.
func Label(v int) string {
	switch {
	case v < 0 || v > 100:
		return "unknown"
	case v < 30:
		return "minimal"
	case v < 50:
		return "basic"
	case v < 70:
		return "standard"
	case v < 85:
		return "hardened"
	}
	return "fortress"
}

// Modifiers of the original formula.
const (
	SeccompBonus       = 5
	LandlockBonus      = 3
	NetworkOffBonus    = 5
	ReadOnlyRootBonus  = 3
	ResourceLimitBonus = 2
	CompositeBonus     = 5
)

var bases = map[string]int{
	"noop": 0, "process": 50, "oci": 55, "wasm": 65, "gvisor": 70,
	"sgx": 80, "sy-agnos": 80, "sev": 82, "tdx": 85, "firecracker": 90,
}

// syAgnosTiers are the tier strengths the original defines but never used.
var syAgnosTiers = map[int]int{1: 80, 2: 85, 3: 88}

// Base returns the base score of a backend kind by its display name
// ("process", "sy-agnos"), and whether the kind is known.
func Base(kind string) (int, bool) {
	v, ok := bases[strings.ToLower(kind)]
	return v, ok
}

// Facts are the enforced properties the formula reads.
type Facts struct {
	Seccomp       string // profile applied, "" for none
	SeccompRules  int
	LandlockRules int // filesystem rules applied
	LandlockABI   int
	NetworkOff    bool // only loopback
	ReadOnlyRoot  bool
	MemoryLimitMB uint64 // enforced limits; 0 = none
	CPULimit      float64
	SyAgnosTier   int // 1-3 when detected, 0 otherwise
}

// Policy scores a requested policy exactly as kavach 1.0's score_backend:
// it trusts the request and ignores the host. Process strict is 65.
func Policy(kind string, p policy.Policy) Score {
	base, _ := Base(kind)
	reasons := []string{fmt.Sprintf("%d base (%s)", base, kind)}
	v := base
	add := func(on bool, n int, why string) {
		if on {
			v += n
			reasons = append(reasons, fmt.Sprintf("+%d %s", n, why))
		}
	}
	add(p.SeccompEnabled, SeccompBonus, "seccomp requested ("+p.Profile()+")")
	add(len(p.LandlockRules) > 0, LandlockBonus, fmt.Sprintf("landlock requested (%d rules)", len(p.LandlockRules)))
	add(!p.Network.Enabled, NetworkOffBonus, "network off requested")
	add(p.ReadOnlyRootfs, ReadOnlyRootBonus, "read-only root requested")
	add(p.HasResourceLimit(), ResourceLimitBonus, "memory or cpu limit requested")
	return finish(v, reasons)
}

// Enforced scores what a sandbox of kind really applies. For sy-agnos
// the base is the detected tier's strength (80/85/88) when known.
func Enforced(kind string, f Facts) Score {
	base, _ := Base(kind)
	if t, ok := syAgnosTiers[f.SyAgnosTier]; ok && strings.EqualFold(kind, "sy-agnos") {
		base = t
	}
	reasons := []string{fmt.Sprintf("%d base (%s)", base, kind)}
	v := base
	add := func(on bool, n int, why string) {
		if on {
			v += n
			reasons = append(reasons, fmt.Sprintf("+%d %s", n, why))
		}
	}
	add(f.Seccomp != "", SeccompBonus, fmt.Sprintf("seccomp (%s, %d rules)", f.Seccomp, f.SeccompRules))
	add(f.LandlockRules > 0, LandlockBonus, fmt.Sprintf("landlock (ABI %d, %d rules)", f.LandlockABI, f.LandlockRules))
	add(f.NetworkOff, NetworkOffBonus, "network off (loopback only)")
	add(f.ReadOnlyRoot, ReadOnlyRootBonus, "read-only root")
	var lim []string
	if f.MemoryLimitMB > 0 {
		lim = append(lim, fmt.Sprintf("memory %d MiB", f.MemoryLimitMB))
	}
	if f.CPULimit > 0 {
		lim = append(lim, fmt.Sprintf("cpu %g", f.CPULimit))
	}
	add(len(lim) > 0, ResourceLimitBonus, strings.Join(lim, ", "))
	return finish(v, reasons)
}

// Composite applies the original's rule for stacked backends:
// min(100, max(layer scores) + 5).
func Composite(layers ...Score) Score {
	best := 0
	var reasons []string
	for i, l := range layers {
		if i == 0 || l.Value > best {
			best = l.Value
		}
		reasons = append(reasons, fmt.Sprintf("layer %d: %s", i+1, l))
	}
	reasons = append(reasons, fmt.Sprintf("+%d composite over max %d", CompositeBonus, best))
	return finish(best+CompositeBonus, reasons)
}

func finish(v int, reasons []string) Score {
	if v > 100 {
		reasons = append(reasons, fmt.Sprintf("clamped %d to 100", v))
		v = 100
	}
	if v < 0 {
		v = 0
	}
	return Score{Value: v, Label: Label(v), Reasons: reasons}
}
