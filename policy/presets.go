package policy

import (
	"fmt"
	"strings"
)

// Minimal is the original's default policy: no seccomp, network off,
// nothing else restricted.
func Minimal() Policy { return Policy{} }

// Basic adds the basic seccomp denylist to Minimal.
func Basic() Policy {
	return Policy{SeccompEnabled: true, SeccompProfile: ProfileBasic}
}

// Strict is the original's strict preset: the strict seccomp allowlist,
// read-only root, 512 MiB of memory, one CPU and 64 processes.
func Strict() Policy {
	return Policy{
		SeccompEnabled: true,
		SeccompProfile: ProfileStrict,
		ReadOnlyRootfs: true,
		MemoryLimitMB:  512,
		CPULimit:       1.0,
		MaxPids:        64,
	}
}

// PresetNames lists the presets in order of strength.
func PresetNames() []string { return []string{"minimal", "basic", "strict"} }

// Preset returns the named preset; the name is case-insensitive. An
// unknown name gives the original's message and wraps ErrUnknownPreset.
func Preset(name string) (Policy, error) {
	switch strings.ToLower(name) {
	case "minimal":
		return Minimal(), nil
	case "basic":
		return Basic(), nil
	case "strict":
		return Strict(), nil
	}
	return Policy{}, fmt.Errorf("%w: %s (use minimal, basic, strict)", ErrUnknownPreset, name)
}
