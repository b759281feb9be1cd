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
// ("process", "sy-agnos"; case-insensitive, and "syagnos" as the
// original's serde name "SyAgnos" lower-cased), and whether the kind is
// known. An unknown kind has base 0.
func Base(kind string) (int, bool) {
	k := strings.ToLower(kind)
	if k == "syagnos" {
		k = "sy-agnos"
	}
	v, ok := bases[k]
	return v, ok
}

// baseReason returns the base of kind and the reason that states it; an
// unknown kind says so rather than silently scoring 0.
func baseReason(kind string, v int, known bool) string {
	if !known {
		return fmt.Sprintf("%d base (unknown backend %q)", v, kind)
	}
	return fmt.Sprintf("%d base (%s)", v, kind)
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
	base, known := Base(kind)
	reasons := []string{baseReason(kind, base, known)}
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
	base, known := Base(kind)
	reasons := []string{baseReason(kind, base, known)}
	if t, ok := syAgnosTiers[f.SyAgnosTier]; ok && isSyAgnos(kind) {
		base = t
		reasons[0] = fmt.Sprintf("%d base (%s tier %d)", base, kind, f.SyAgnosTier)
	}
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

func isSyAgnos(kind string) bool {
	k := strings.ToLower(kind)
	return k == "sy-agnos" || k == "syagnos"
}

// Composite applies the original's rule for stacked backends:
// min(100, max(layer scores) + 5). With no layers there is nothing to
// stack and the score is 0.
func Composite(layers ...Score) Score {
	if len(layers) == 0 {
		return finish(0, []string{"0 composite with no layers"})
	}
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
