package bundle

import (
	"fmt"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/seccomp"
	"github.com/kavach-go/kavach/policy"
)

// Plan returns what a container sandbox of kind enforces for p: the
// same for every OCI runtime, because the spec, the init and the seccomp
// filter are kavach's own. rootfs is the given root directory, "" for a
// root built from the host.
func Plan(kind backend.Kind, p policy.Policy, rootfs string) (backend.Enforced, error) {
	netns := !p.Network.Enabled
	e := backend.Enforced{
		Backend:      kind,
		Namespaces:   NamespaceNames(netns),
		Root:         "host /usr and libraries bound read-only, generated /etc",
		ReadOnlyRoot: p.ReadOnlyRootfs,
		NoNewPrivs:   true,
		Capabilities: []string{},
		Network:      backend.NetworkNone,
	}
	if rootfs != "" {
		e.Root = "directory " + rootfs
	}
	notSupported := func(protection, reason string) error {
		if !p.BestEffort {
			return &backend.NotSupportedError{Kind: kind, Protection: protection, Reason: reason}
		}
		e.Downgrades = append(e.Downgrades, protection+": "+reason)
		return nil
	}
	switch {
	case !p.Network.Enabled:
	case len(p.Network.AllowedHosts) > 0:
		// Without the proxy the allowlist cannot be honoured; the network
		// stays off, which is stricter than asked.
		if err := notSupported("network allowlist", "the egress proxy is not wired into "+kind.String()+" containers; the network stays off"); err != nil {
			return backend.Enforced{}, err
		}
		e.Namespaces = NamespaceNames(true)
	default:
		e.Network = backend.NetworkHost
	}
	if prof := p.Profile(); prof != "" {
		f, err := seccomp.Build(prof)
		if err != nil {
			return backend.Enforced{}, fmt.Errorf("plan %s: %w", kind, err)
		}
		e.Seccomp, e.SeccompRules = prof, f.Rules()
	}
	if len(p.LandlockRules) > 0 {
		if err := notSupported("landlock rules", "not applied inside "+kind.String()+" containers"); err != nil {
			return backend.Enforced{}, err
		}
	}
	if p.MemoryLimitMB > 0 || p.CPULimit > 0 || p.MaxPids > 0 {
		h, err := cgroup.Detect()
		if err != nil {
			if err := notSupported("cgroup limits", err.Error()); err != nil {
				return backend.Enforced{}, err
			}
		} else {
			e.CgroupVersion = h.Version
			e.MemoryLimitMB, e.CPULimit, e.MaxPids = p.MemoryLimitMB, p.CPULimit, p.MaxPids
		}
	}
	return e, nil
}

// NetNS reports whether containers for e get their own network
// namespace.
func NetNS(e backend.Enforced) bool { return e.Network != backend.NetworkHost }
