package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/landlock"
	"github.com/kavach-go/kavach/internal/procinit"
	"github.com/kavach-go/kavach/policy"
)

// sysDirs are the host's top-level program directories bound read-only.
// On a merged-/usr host most are symlinks into /usr, recreated as such.
var sysDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}

// etcBinds are the host files and directories of /etc a sandbox sees,
// read-only, when they exist: the dynamic linker's cache, TLS roots and
// the alternatives symlinks that /usr/bin programs point into.
var etcBinds = []string{"/etc/ld.so.cache", "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives"}

// etcLinks are /etc symlinks copied as symlinks (their targets are under
// /usr).
var etcLinks = []string{"/etc/localtime"}

// hostInfo is what the backend learns about the host once per process.
type hostInfo struct {
	root     bool
	uid, gid int
	lastCap  int
	entries  []rootEntry
	resolv   string
	usernsOK error // nil when user namespaces can be created
	// stateBase is where sandboxes keep their state by default: a tmpfs
	// when root has one (mkdir on a disk file system costs a journal
	// write; on tmpfs, microseconds), else os.TempDir.
	stateBase string

	landlockABI int
	landlockErr error
	cg          cgroup.Host
	cgErr       error
}

var hostOnce = sync.OnceValue(probeHost)

func probeHost() *hostInfo {
	h := &hostInfo{root: os.Geteuid() == 0, uid: os.Geteuid(), gid: os.Getegid(), lastCap: 63}
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			h.lastCap = n
		}
	}
	for _, p := range append(append(slices.Clone(sysDirs), etcBinds...), etcLinks...) {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(p); err == nil {
				h.entries = append(h.entries, rootEntry{Path: p, Link: t})
			}
		case fi.IsDir():
			h.entries = append(h.entries, rootEntry{Path: p})
		case fi.Mode().IsRegular():
			h.entries = append(h.entries, rootEntry{Path: p, File: true})
		}
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		h.resolv = string(b)
	}
	h.usernsOK = probeUserns(h.root)
	h.stateBase = os.TempDir()
	if h.root {
		for _, d := range []string{"/run", "/dev/shm"} {
			var st unix.Statfs_t
			if unix.Statfs(d, &st) == nil && st.Type == unix.TMPFS_MAGIC {
				h.stateBase = d
				break
			}
		}
	}
	h.landlockABI, h.landlockErr = landlock.ABI()
	h.cg, h.cgErr = cgroup.Detect()
	return h
}

// probeUserns checks the sysctls that gate user namespaces. It reads
// files only, so that Available stays cheap enough to call per run; a
// kernel that refuses anyway makes Start fail with the kernel's error.
func probeUserns(root bool) error {
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return fmt.Errorf("kernel without user namespaces: %v", err)
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return fmt.Errorf("user namespaces disabled: /proc/sys/user/max_user_namespaces is 0")
	}
	if !root {
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
			return fmt.Errorf("unprivileged user namespaces disabled: /proc/sys/kernel/unprivileged_userns_clone is 0")
		}
		if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && strings.TrimSpace(string(b)) == "1" {
			return fmt.Errorf("unprivileged user namespaces restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns=1)")
		}
	}
	return nil
}

// cgroupHost is the hierarchy sandboxes use: the detected one, unless an
// option replaced it.
func (b *Backend) cgroupHost(h *hostInfo) (cgroup.Host, error) {
	if b.opts.cgroupHost != nil {
		return *b.opts.cgroupHost, nil
	}
	return h.cg, h.cgErr
}

// Available returns nil when user namespaces can be created and the
// binary can re-execute itself.
func (b *Backend) Available(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := hostOnce()
	if h.usernsOK != nil {
		return backend.Unavailable(backend.Process, "%v", h.usernsOK)
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		return backend.Unavailable(backend.Process, "cannot re-execute itself: %v", err)
	}
	return nil
}

// plan is everything Create derives from a policy on this host.
type plan struct {
	enforced backend.Enforced
	ownNet   bool
	limits   cgroup.Limits
	useCg    bool // a cgroup is created (limits or not: it also freezes)
	rlimits  []rlimit
	landlock *landlockPlan
	seccomp  string
}

// landlockPlan is the ruleset the init builds; rules are derived from the
// mounts when the sandbox is created.
type landlockPlan = procinit.LandlockPlan

// Plan returns what Create enforces for p on this host.
func (b *Backend) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	if err := ctx.Err(); err != nil {
		return backend.Enforced{}, err
	}
	pl, err := b.plan(p, WorkdirPath)
	if err != nil {
		return backend.Enforced{}, err
	}
	return pl.enforced, nil
}

func notSupported(protection, format string, args ...any) error {
	return &backend.NotSupportedError{Kind: backend.Process, Protection: protection, Reason: fmt.Sprintf(format, args...)}
}

func (b *Backend) plan(p policy.Policy, workdir string) (*plan, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("process plan: %w", err)
	}
	h := hostOnce()
	if h.usernsOK != nil {
		return nil, backend.Unavailable(backend.Process, "%v", h.usernsOK)
	}
	pl := &plan{}
	e := &pl.enforced
	e.Backend = backend.Process
	e.Root = "tmpfs+pivot_root"
	e.ReadOnlyRoot = true
	e.NoNewPrivs = true
	e.Capabilities = []string{}
	e.UID = 0
	if h.root {
		e.UID = SandboxUID
	}
	downgrade := func(protection, format string, args ...any) error {
		if !p.BestEffort {
			return notSupported(protection, format, args...)
		}
		e.Downgrades = append(e.Downgrades, protection+": "+fmt.Sprintf(format, args...))
		return nil
	}

	// Network: off and proxy mode get their own namespace with loopback
	// only; on without an allowlist shares the host's.
	switch {
	case !p.Network.Enabled:
		pl.ownNet, e.Network = true, backend.NetworkNone
	case len(p.Network.AllowedHosts) > 0:
		pl.ownNet, e.Network = true, backend.NetworkProxy
	default:
		e.Network = backend.NetworkHost
	}
	e.Namespaces = []string{"user", "pid", "mount"}
	if pl.ownNet {
		e.Namespaces = append(e.Namespaces, "net")
	}
	e.Namespaces = append(e.Namespaces, "uts", "ipc", "cgroup")

	// Seccomp.
	if prof := p.Profile(); prof != "" {
		rules, err := seccompRules(prof)
		if err != nil {
			if err := downgrade("seccomp "+prof, "%v", err); err != nil {
				return nil, err
			}
		} else {
			pl.seccomp, e.Seccomp, e.SeccompRules = prof, prof, rules
		}
	}

	// Landlock, from the mounts.
	if h.landlockErr != nil {
		if err := downgrade("landlock", "%v", h.landlockErr); err != nil {
			return nil, err
		}
	} else {
		lp := &landlockPlan{ABI: h.landlockABI, Scoped: h.landlockABI >= 6}
		full := landlock.HandledFS(h.landlockABI)
		lp.Rules = []landlock.Rule{
			{Path: "/", Access: landlock.ReadAccess},
			{Path: "/dev", Access: landlock.DeviceAccess},
			{Path: "/dev/shm", Access: full},
			{Path: "/dev/pts", Access: landlock.DeviceAccess},
			{Path: "/tmp", Access: full},
			{Path: workdir, Access: full},
		}
		if p.DataDir != "" {
			lp.Rules = append(lp.Rules, landlock.Rule{Path: p.DataDir, Access: full})
		}
		for _, m := range p.Mounts {
			acc := full
			if m.ReadOnly {
				acc = landlock.ReadAccess
			}
			lp.Rules = append(lp.Rules, landlock.Rule{Path: m.Target, Access: acc})
		}
		for _, r := range p.LandlockRules {
			acc := landlock.ReadAccess
			if r.ReadWrite() {
				acc = full
			}
			lp.Rules = append(lp.Rules, landlock.Rule{Path: r.Path, Access: acc})
		}
		if !pl.ownNet && len(p.Network.AllowedPorts) > 0 {
			if h.landlockABI >= 4 {
				lp.RestrictTCP = true
				lp.Ports = slices.Clone(p.Network.AllowedPorts)
				e.LandlockNetRules = len(lp.Ports)
			} else if err := downgrade("landlock tcp port rules", "kernel Landlock ABI %d < 4", h.landlockABI); err != nil {
				return nil, err
			}
		}
		pl.landlock = lp
		e.LandlockABI = lp.ABI
		e.LandlockRules = len(lp.Rules)
		e.LandlockScoped = lp.Scoped
	}

	// Resource limits.
	pl.limits = cgroup.Limits{MemoryBytes: p.MemoryLimitMB << 20, CPU: p.CPULimit, Pids: p.MaxPids}
	asked := p.MemoryLimitMB > 0 || p.CPULimit > 0 || p.MaxPids > 0
	cgHost, cgErr := b.cgroupHost(h)
	if b.opts.noCgroups {
		cgErr = fmt.Errorf("cgroups disabled by the backend's configuration")
	} else if cgErr == nil && !h.root {
		cgErr = fmt.Errorf("cgroups need root, running as uid %d", h.uid)
	}
	switch {
	case cgErr == nil:
		pl.useCg = true
		if asked {
			e.CgroupVersion = cgHost.Version
			e.MemoryLimitMB, e.CPULimit, e.MaxPids = p.MemoryLimitMB, p.CPULimit, p.MaxPids
		}
	case asked:
		if err := downgrade("cgroup limits", "%v", cgErr); err != nil {
			return nil, err
		}
		// rlimits stand in: private writable memory for memory, process
		// count for pids; nothing expresses a CPU quota. Not the address
		// space: a Go or Java runtime reserves more than a typical limit
		// before it allocates anything (a Go process maps about 1.2 GB), so
		// under RLIMIT_AS such programs, the sandbox's own init among them,
		// fail at their next mapping; RLIMIT_DATA counts what is really
		// allocated (heap, anonymous and private writable mappings), not
		// reservations, shared mappings or the page cache.
		if p.MemoryLimitMB > 0 {
			pl.rlimits = append(pl.rlimits, rlimit{Resource: rlimitDATA, Value: p.MemoryLimitMB << 20})
			e.Downgrades = append(e.Downgrades, "memory limit: RLIMIT_DATA bounds private writable memory, not shared mappings or the page cache")
		}
		if p.MaxPids > 0 {
			pl.rlimits = append(pl.rlimits, rlimit{Resource: rlimitNPROC, Value: uint64(p.MaxPids)})
		}
		if p.CPULimit > 0 {
			e.Downgrades = append(e.Downgrades, "cpu limit: no rlimit can express a CPU quota")
		}
		e.Rlimits = len(pl.rlimits) > 0
	}
	return pl, nil
}

// Resources of setrlimit used by the fallback.
const (
	rlimitDATA  = 2
	rlimitNPROC = 6
)

// validateLayout checks the mounts and files of a spec against the root
// the init builds.
func validateLayout(spec backend.Spec) error {
	// Binds may go below /tmp (the sandbox's /tmp gets the mount point),
	// not below what the init builds from the host.
	reserved := []string{"/", "/proc", "/dev", WorkdirPath}
	reserved = append(reserved, sysDirs...)
	reserved = append(reserved, etcBinds...)
	under := func(p, dir string) bool {
		return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
	}
	var binds []string
	for _, m := range spec.Policy.Mounts {
		if !filepath.IsAbs(m.Target) || filepath.Clean(m.Target) != m.Target {
			return fmt.Errorf("mount target %q: must be a clean absolute path", m.Target)
		}
		for _, r := range reserved {
			if r != "/" && under(m.Target, r) {
				return fmt.Errorf("mount target %s: inside %s, which the sandbox provides", m.Target, r)
			}
		}
		if _, err := os.Stat(m.Source); err != nil {
			return fmt.Errorf("mount source: %w", err)
		}
		binds = append(binds, m.Target)
	}
	if d := spec.Policy.DataDir; d != "" {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("data_dir %q: must be absolute", d)
		}
		for _, r := range reserved {
			if r != "/" && under(d, r) {
				return fmt.Errorf("data_dir %s: inside %s, which the sandbox provides", d, r)
			}
		}
		binds = append(binds, filepath.Clean(d))
	}
	for _, f := range spec.Files {
		if !filepath.IsAbs(f.Path) || filepath.Clean(f.Path) != f.Path || f.Path == "/" {
			return fmt.Errorf("file %q: must be a clean absolute path", f.Path)
		}
		// Files live on the root's tmpfs; under a bind they would land on
		// the host's disk or be hidden.
		for _, r := range append(append(reserved[1:], "/tmp"), binds...) {
			if under(f.Path, r) {
				return fmt.Errorf("file %s: inside %s; files must be on the sandbox's own tmpfs (e.g. /run/secrets)", f.Path, r)
			}
		}
	}
	return nil
}
