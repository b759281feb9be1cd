package backend

import (
	"github.com/kavach-go/kavach/score"
)

// Network modes reported in Enforced.
const (
	NetworkNone  = "none"  // own network namespace with only loopback
	NetworkProxy = "proxy" // only loopback, plus kavach's egress proxy inside
	NetworkHost  = "host"  // the host's network
)

// Enforced is what a sandbox really applies, as opposed to what its
// policy asked for. Scores are computed from it, and `kavach verify`
// checks it from inside the sandbox.
type Enforced struct {
	Backend Kind `json:"backend"`
	// Layers lists each layer of a composite sandbox, outermost first.
	Layers []Enforced `json:"layers,omitempty"`

	Namespaces   []string `json:"namespaces,omitempty"` // "user", "pid", "mount", "net", "uts", "ipc", "cgroup"
	Root         string   `json:"root,omitempty"`       // how the root is built, e.g. "tmpfs+pivot_root"
	ReadOnlyRoot bool     `json:"read_only_root"`

	Seccomp      string `json:"seccomp,omitempty"` // "basic" or "strict"; "" when none
	SeccompRules int    `json:"seccomp_rules,omitempty"`

	LandlockABI      int  `json:"landlock_abi,omitempty"`
	LandlockRules    int  `json:"landlock_rules,omitempty"` // filesystem rules
	LandlockNetRules int  `json:"landlock_net_rules,omitempty"`
	LandlockScoped   bool `json:"landlock_scoped,omitempty"` // abstract sockets and signals

	CgroupVersion int     `json:"cgroup_version,omitempty"` // 0 when no cgroup applies limits
	MemoryLimitMB uint64  `json:"memory_limit_mb,omitempty"`
	CPULimit      float64 `json:"cpu_limit,omitempty"`
	MaxPids       uint32  `json:"max_pids,omitempty"`
	Rlimits       bool    `json:"rlimits,omitempty"` // rlimits stand in for missing cgroups

	NoNewPrivs   bool     `json:"no_new_privs"`
	Capabilities []string `json:"capabilities"` // retained capabilities; empty = all dropped
	Network      string   `json:"network,omitempty"`
	UID          int      `json:"uid"`                     // uid the command runs as, inside
	SyAgnosTier  int      `json:"sy_agnos_tier,omitempty"` // 1-3 when known
	Downgrades   []string `json:"downgrades,omitempty"`    // asked for, not applied (best effort)
	Unenforced   []string `json:"unenforced,omitempty"`    // accepted but never applied by this kind
}

// Facts reduces Enforced to what the score formula reads.
func (e Enforced) Facts() score.Facts {
	return score.Facts{
		Seccomp:       e.Seccomp,
		SeccompRules:  e.SeccompRules,
		LandlockRules: e.LandlockRules,
		LandlockABI:   e.LandlockABI,
		NetworkOff:    e.Network == NetworkNone,
		ReadOnlyRoot:  e.ReadOnlyRoot,
		MemoryLimitMB: e.MemoryLimitMB,
		CPULimit:      e.CPULimit,
		SyAgnosTier:   e.SyAgnosTier,
	}
}

// Score returns the strength score of what is enforced. A composite's
// score follows the original's rule over its layers.
func (e Enforced) Score() score.Score {
	if len(e.Layers) >= 2 {
		s := make([]score.Score, len(e.Layers))
		for i, l := range e.Layers {
			s[i] = l.Score()
		}
		return score.Composite(s...)
	}
	return score.Enforced(e.Backend.String(), e.Facts())
}
