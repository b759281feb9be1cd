package policy

import "slices"

// Merge combines two policies so that the stricter value of each field
// wins, as the original's merge_policies does, with one defect fixed:
// two non-empty allowlists with nothing in common give a policy that
// allows no host (network off), not an empty list that means "no
// restriction".
//
// The rules, field by field: seccomp on if either is; profile "strict"
// if either is strict; Landlock rules and mounts are the union (base's
// first); network on only if both are; hosts and ports are intersected
// when both are set, otherwise whichever is set; read-only root if
// either; memory, CPU, pids, timeout and tmp size are the smaller of
// those set; data_dir is base's if set; best-effort only if both allow it.
func Merge(base, overlay Policy) Policy {
	out := base.Clone()
	out.SeccompEnabled = base.SeccompEnabled || overlay.SeccompEnabled
	switch {
	case base.SeccompProfile == ProfileStrict || overlay.SeccompProfile == ProfileStrict:
		out.SeccompProfile = ProfileStrict
	case base.SeccompProfile == "":
		out.SeccompProfile = overlay.SeccompProfile
	}
	out.LandlockRules = append(out.LandlockRules, overlay.LandlockRules...)
	out.Mounts = append(out.Mounts, overlay.Mounts...)

	out.Network.Enabled = base.Network.Enabled && overlay.Network.Enabled
	hosts, hostsEmpty := intersect(base.Network.AllowedHosts, overlay.Network.AllowedHosts)
	ports, portsEmpty := intersect(base.Network.AllowedPorts, overlay.Network.AllowedPorts)
	out.Network.AllowedHosts, out.Network.AllowedPorts = hosts, ports
	if hostsEmpty || portsEmpty {
		// Both sides restricted, and nothing satisfies both: deny all.
		out.Network = Network{}
	}
	if !out.Network.Enabled {
		out.Network.AllowedHosts, out.Network.AllowedPorts = nil, nil
	}

	out.ReadOnlyRootfs = base.ReadOnlyRootfs || overlay.ReadOnlyRootfs
	out.MemoryLimitMB = minSet(base.MemoryLimitMB, overlay.MemoryLimitMB)
	out.CPULimit = minSet(base.CPULimit, overlay.CPULimit)
	out.MaxPids = minSet(base.MaxPids, overlay.MaxPids)
	out.TimeoutMS = minSet(base.TimeoutMS, overlay.TimeoutMS)
	out.TmpSizeMB = minSet(base.TmpSizeMB, overlay.TmpSizeMB)
	if out.DataDir == "" {
		out.DataDir = overlay.DataDir
	}
	out.BestEffort = base.BestEffort && overlay.BestEffort
	return out
}

// intersect returns the items of a also in b (a's order), or whichever
// list is non-empty. empty reports that both were non-empty and disjoint.
func intersect[T comparable](a, b []T) (out []T, empty bool) {
	switch {
	case len(a) == 0:
		return slices.Clone(b), false
	case len(b) == 0:
		return slices.Clone(a), false
	}
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out, len(out) == 0
}

// minSet returns the smaller of a and b, ignoring zero (unset).
func minSet[T uint32 | uint64 | float64](a, b T) T {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
