package policy

import (
	"encoding/json"
	"time"
)

// Seccomp profile names.
const (
	ProfileBasic  = "basic"
	ProfileStrict = "strict"
)

// Landlock access values. The original treats "rw" as read-write and any
// other string as read-only; Validate accepts "rw", "ro" and "r".
const (
	AccessRead      = "ro"
	AccessReadWrite = "rw"
)

// Policy is what a sandbox must enforce. The zero value is the minimal
// preset: no seccomp, no network, nothing else restricted.
type Policy struct {
	// SeccompEnabled turns the syscall filter on; SeccompProfile picks it
	// ("basic" denylist or "strict" allowlist; empty means basic).
	SeccompEnabled bool   `json:"seccomp_enabled" toml:"seccomp_enabled"`
	SeccompProfile string `json:"seccomp_profile" toml:"seccomp_profile"`
	// LandlockRules are extra filesystem rules on top of the ones a backend
	// derives from its mounts.
	LandlockRules []LandlockRule `json:"landlock_rules" toml:"landlock_rules"`
	Network       Network        `json:"network" toml:"network"`
	// ReadOnlyRootfs makes everything read-only except the workdir, /tmp
	// and DataDir.
	ReadOnlyRootfs bool `json:"read_only_rootfs" toml:"read_only_rootfs"`
	// MemoryLimitMB, CPULimit (in CPUs) and MaxPids are resource limits;
	// zero means unset.
	MemoryLimitMB uint64  `json:"memory_limit_mb" toml:"memory_limit_mb"`
	CPULimit      float64 `json:"cpu_limit" toml:"cpu_limit"`
	MaxPids       uint32  `json:"max_pids" toml:"max_pids"`
	// DataDir is a host directory mounted read-write at the same path.
	DataDir string `json:"data_dir" toml:"data_dir"`

	// Mounts are extra bind mounts (kavach addition).
	Mounts []Mount `json:"mounts,omitempty" toml:"mounts"`
	// TimeoutMS bounds each exec; zero means the sandbox's default
	// (kavach addition).
	TimeoutMS uint64 `json:"timeout_ms,omitempty" toml:"timeout_ms"`
	// TmpSizeMB caps the sandbox's /tmp tmpfs; zero means 64 MiB
	// (kavach addition).
	TmpSizeMB uint64 `json:"tmp_size_mb,omitempty" toml:"tmp_size_mb"`
	// BestEffort lets a backend apply less than asked when the host cannot
	// do it, instead of failing; what was applied is then reported in
	// backend.Enforced and scored (kavach addition).
	BestEffort bool `json:"best_effort,omitempty" toml:"best_effort"`
}

// LandlockRule grants Access ("ro" or "rw") beneath Path.
type LandlockRule struct {
	Path   string `json:"path" toml:"path"`
	Access string `json:"access" toml:"access"`
}

// ReadWrite reports whether the rule grants write access. As in the
// original, only "rw" does.
func (r LandlockRule) ReadWrite() bool { return r.Access == AccessReadWrite }

// Network says whether the sandbox may reach the network, and where.
// With Enabled false the sandbox has only loopback. AllowedHosts, when
// set, routes egress through kavach's proxy, which allows only those
// hosts (and AllowedPorts).
type Network struct {
	Enabled      bool     `json:"enabled" toml:"enabled"`
	AllowedHosts []string `json:"allowed_hosts" toml:"allowed_hosts"`
	AllowedPorts []uint16 `json:"allowed_ports" toml:"allowed_ports"`
}

// Mount binds Source on the host at Target in the sandbox.
type Mount struct {
	Source   string `json:"source" toml:"source"`
	Target   string `json:"target" toml:"target"`
	ReadOnly bool   `json:"read_only" toml:"read_only"`
}

// Timeout returns TimeoutMS as a duration (zero when unset).
func (p *Policy) Timeout() time.Duration {
	return time.Duration(p.TimeoutMS) * time.Millisecond
}

// Profile returns the seccomp profile in force: "" when seccomp is off,
// otherwise SeccompProfile, defaulting to "basic" as the original does.
func (p *Policy) Profile() string {
	if !p.SeccompEnabled {
		return ""
	}
	if p.SeccompProfile == "" {
		return ProfileBasic
	}
	return p.SeccompProfile
}

// HasResourceLimit reports whether a memory or CPU limit is set (the
// score's +2 modifier; max_pids does not count, as in the original).
func (p *Policy) HasResourceLimit() bool { return p.MemoryLimitMB > 0 || p.CPULimit > 0 }

// Clone returns a deep copy.
func (p Policy) Clone() Policy {
	p.LandlockRules = append([]LandlockRule(nil), p.LandlockRules...)
	p.Network.AllowedHosts = append([]string(nil), p.Network.AllowedHosts...)
	p.Network.AllowedPorts = append([]uint16(nil), p.Network.AllowedPorts...)
	p.Mounts = append([]Mount(nil), p.Mounts...)
	return p
}

// wire is the JSON shape of the original: Option fields are null when
// unset and lists are never null.
type wire struct {
	SeccompEnabled bool           `json:"seccomp_enabled"`
	SeccompProfile *string        `json:"seccomp_profile"`
	LandlockRules  []LandlockRule `json:"landlock_rules"`
	Network        wireNetwork    `json:"network"`
	ReadOnlyRootfs bool           `json:"read_only_rootfs"`
	MemoryLimitMB  *uint64        `json:"memory_limit_mb"`
	CPULimit       *float64       `json:"cpu_limit"`
	MaxPids        *uint32        `json:"max_pids"`
	DataDir        *string        `json:"data_dir"`
	Mounts         []Mount        `json:"mounts,omitempty"`
	TimeoutMS      uint64         `json:"timeout_ms,omitempty"`
	TmpSizeMB      uint64         `json:"tmp_size_mb,omitempty"`
	BestEffort     bool           `json:"best_effort,omitempty"`
}

type wireNetwork struct {
	Enabled      bool     `json:"enabled"`
	AllowedHosts []string `json:"allowed_hosts"`
	AllowedPorts []uint16 `json:"allowed_ports"`
}

func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MarshalJSON writes the original's shape: unset options are null.
func (p Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{
		SeccompEnabled: p.SeccompEnabled,
		SeccompProfile: nonZero(p.SeccompProfile),
		LandlockRules:  nonNil(p.LandlockRules),
		Network: wireNetwork{
			Enabled:      p.Network.Enabled,
			AllowedHosts: nonNil(p.Network.AllowedHosts),
			AllowedPorts: nonNil(p.Network.AllowedPorts),
		},
		ReadOnlyRootfs: p.ReadOnlyRootfs,
		MemoryLimitMB:  nonZero(p.MemoryLimitMB),
		CPULimit:       nonZero(p.CPULimit),
		MaxPids:        nonZero(p.MaxPids),
		DataDir:        nonZero(p.DataDir),
		Mounts:         p.Mounts,
		TimeoutMS:      p.TimeoutMS,
		TmpSizeMB:      p.TmpSizeMB,
		BestEffort:     p.BestEffort,
	})
}
