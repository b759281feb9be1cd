package bundle

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kavach-go/kavach/policy"
)

// Paths inside the container.
const (
	// KavachDir holds the init binary and the status directory.
	KavachDir = "/.kavach"
	// InitName is the init binary's file name: the reexec marker for the
	// init role, so that argv[0] carries it when the runtime finds the
	// binary through PATH=/.kavach.
	InitName = "kavach-reexec:" + roleInit
	// StatusDir is where the per-command host directory is bound; it holds
	// the gate.
	StatusDir = KavachDir + "/status"
	// StatusArg is the init's status argument: it reports how the command
	// ended on descriptor StatusFD, the write end of a host pipe the
	// runtime passes in (runc and crun --preserve-fds, runsc --pass-fd).
	// The command never holds it, so it cannot forge its own exit status,
	// as it could write a status file in a directory its uid owns.
	StatusArg = "fd:3"
	// StatusFD is the descriptor StatusArg names.
	StatusFD = 3
	// GateFile, a FIFO the host makes only when it must prepare something
	// before the command runs, holds the init until the host closes it.
	GateFile = StatusDir + "/gate"
	// Workdir is where the sandbox's workdir is bound, and the commands'
	// default working directory.
	Workdir = "/work"
)

// SpecVersion is the ociVersion written: 1.0.2, the newest that crun 1.8
// and runc 1.1 (Debian 12) accept, and all the fields used here exist in
// it.
const SpecVersion = "1.0.2"

// Role names registered with internal/reexec.
const (
	roleInit = "bundle-init"
	roleExec = "bundle-exec"
)

// MaskedPaths and ReadonlyPaths are runc's defaults (`runc spec`): kernel
// interfaces in /proc and /sys that leak host information or change host
// state.
var (
	MaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// HostDirs are the host's top-level directories of programs and libraries
// a built root takes over: a symlink on the host (merged /usr) becomes the
// same symlink, a directory a read-only bind.
var HostDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// Layout says where the pieces of one command's container come from on
// the host.
type Layout struct {
	// Rootfs is the root directory.
	Rootfs string
	// HostBinds are host directories bound read-only at the same path
	// (for a built root: the real directories among HostDirs and the
	// /etc files taken from the host).
	HostBinds []string
	// Init is the host path of the kavach binary.
	Init string
	// Status is the host directory bound at StatusDir.
	Status string
	// Workdir is the host directory bound read-write at Workdir.
	Workdir string
	// Files are host files (on a tmpfs) bound read-only at their targets.
	Files []FileBind
}

// FileBind binds one host file at a path inside the container.
type FileBind struct {
	Source, Target string
}

// Command is the program one container runs.
type Command struct {
	Args    []string
	Env     []string
	Dir     string // "" = Workdir
	Profile string // seccomp profile, "" for none
	// Inner is a second layer applied inside the container; nil for none.
	Inner *InnerStage
}

// Options are the sandbox-wide settings of a spec.
type Options struct {
	Policy policy.Policy
	// NetNS gives the container its own network namespace (loopback only).
	NetNS bool
	// CgroupsPath is the container's cgroup, e.g. "/kavach/<id>".
	CgroupsPath string
	// Hostname of the container.
	Hostname string
	// CgroupFS mounts the container's own cgroups read-only at
	// /sys/fs/cgroup (as runc's default spec does), where the init reads
	// the OOM-kill count and `kavach verify` the limits. It needs NetNS,
	// like /sys.
	CgroupFS bool
	// PidsInKernel enforces max_pids with RLIMIT_NPROC inside the
	// container's kernel instead of the host's pids cgroup, whose count
	// would include the runtime's own threads (gVisor's sentry has dozens
	// of host tasks, and fails to start under a small pids.max). The host
	// cgroup then gets a backstop of max_pids plus PidsOverhead.
	PidsInKernel bool
}

// PidsOverhead is the host tasks allowed for the runtime itself when
// PidsInKernel is set.
const PidsOverhead = 512

// Spec returns the OCI configuration of one command's container.
func Spec(o Options, l Layout, c Command) *specs.Spec {
	p := o.Policy
	dir := c.Dir
	if dir == "" {
		dir = Workdir
	}
	initArgs := []string{InitName, StatusArg, c.Profile, encodeInner(c.Inner), strconv.Itoa(len(c.Env))}
	initArgs = append(initArgs, c.Env...)
	initArgs = append(initArgs, "--")
	initArgs = append(initArgs, c.Args...)

	noCaps := []string{}
	s := &specs.Spec{
		Version:  SpecVersion,
		Hostname: o.Hostname,
		Root:     &specs.Root{Path: l.Rootfs, Readonly: p.ReadOnlyRootfs},
		Process: &specs.Process{
			Args: initArgs,
			// The init's own environment only finds the init; the
			// command's environment travels in its arguments, so nothing
			// the runtime adds (runc sets HOME) reaches the command.
			// GORACE matters only when kavach is built with -race (its
			// tests): the race runtime otherwise sleeps a second in exit.
			// One P: the init mostly waits, and its threads count in the
			// container's pids limit (the command's budget) for as long as
			// the command runs.
			Env:             []string{"PATH=" + KavachDir, "KAVACH_REEXEC_ROLE=" + roleInit, "GORACE=atexit_sleep_ms=0", "GOMAXPROCS=1"},
			Cwd:             dir,
			User:            specs.User{UID: 0, GID: 0},
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: noCaps, Effective: noCaps, Inheritable: noCaps, Permitted: noCaps, Ambient: noCaps,
			},
			Rlimits: rlimits(o),
		},
		Mounts: mounts(o, l),
		Linux: &specs.Linux{
			Namespaces:    namespaces(o.NetNS),
			MaskedPaths:   MaskedPaths,
			ReadonlyPaths: ReadonlyPaths,
			CgroupsPath:   o.CgroupsPath,
			Resources:     resources(o),
		},
	}
	return s
}

func namespaces(netns bool) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.CgroupNamespace},
	}
	if netns {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return ns
}

// NamespaceNames returns the names Enforced reports for the namespaces
// Spec creates.
func NamespaceNames(netns bool) []string {
	n := []string{"pid", "mount", "ipc", "uts", "cgroup"}
	if netns {
		n = append(n, "net")
	}
	return n
}

func mounts(o Options, l Layout) []specs.Mount {
	p := o.Policy
	tmpMB := p.TmpSizeMB
	if tmpMB == 0 {
		tmpMB = 64
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", fmt.Sprintf("size=%dm", tmpMB)}},
	}
	if o.NetNS {
		// sysfs can only be mounted in a network namespace of one's own;
		// without one, /sys is left out rather than bound from the host.
		ms = append(ms, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
		if o.CgroupFS {
			ms = append(ms, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
		}
	}
	for _, d := range l.HostBinds {
		ms = append(ms, bind(d, d, true))
	}
	ms = append(ms, bind(l.Init, path.Join(KavachDir, InitName), true))
	ms = append(ms, bind(l.Status, StatusDir, false))
	ms = append(ms, bind(l.Workdir, Workdir, false))
	if p.DataDir != "" {
		ms = append(ms, bind(p.DataDir, p.DataDir, false))
	}
	for _, m := range p.Mounts {
		ms = append(ms, bind(m.Source, m.Target, m.ReadOnly))
	}
	for _, f := range l.Files {
		ms = append(ms, bind(f.Source, f.Target, true))
	}
	return ms
}

func bind(src, dst string, ro bool) specs.Mount {
	opts := []string{"rbind", "nosuid", "nodev"}
	if ro {
		opts = append(opts, "ro")
	} else {
		opts = append(opts, "rw")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// cpuPeriod is the CFS period in microseconds for the CPU quota.
const cpuPeriod = 100000

func rlimits(o Options) []specs.POSIXRlimit {
	r := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}
	if o.PidsInKernel && o.Policy.MaxPids > 0 {
		n := uint64(o.Policy.MaxPids)
		r = append(r, specs.POSIXRlimit{Type: "RLIMIT_NPROC", Hard: n, Soft: n})
	}
	return r
}

func resources(o Options) *specs.LinuxResources {
	p := o.Policy
	r := &specs.LinuxResources{
		// Deny every device; the runtimes add the standard ones (null,
		// zero, full, random, urandom, tty, ptmx) they create.
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	if p.MemoryLimitMB > 0 {
		b := int64(p.MemoryLimitMB) << 20
		// Memory plus swap equal to memory: no swap, so the limit bites.
		r.Memory = &specs.LinuxMemory{Limit: &b, Swap: &b}
	}
	if p.MaxPids > 0 {
		n := int64(p.MaxPids)
		if o.PidsInKernel {
			n += PidsOverhead
		}
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	if p.CPULimit > 0 {
		q := max(int64(p.CPULimit*cpuPeriod), 1000)
		period := uint64(cpuPeriod)
		r.CPU = &specs.LinuxCPU{Quota: &q, Period: &period}
	}
	return r
}

// initArgs are the init role's arguments.
type initArgs struct {
	status, profile string
	inner           string // encoded InnerStage, "" for none
	env, argv       []string
}

// parseInitArgs splits the init role's arguments (after argv[0]):
// STATUS PROFILE INNER N ENV1..ENVN -- ARGV...
func parseInitArgs(args []string) (initArgs, error) {
	if len(args) < 4 {
		return initArgs{}, fmt.Errorf("init arguments: %d, want at least 4", len(args))
	}
	a := initArgs{status: args[0], profile: args[1], inner: args[2]}
	n, err := strconv.Atoi(args[3])
	if err != nil || n < 0 || 4+n >= len(args) || args[4+n] != "--" {
		return initArgs{}, fmt.Errorf("init arguments: bad environment count %q", args[3])
	}
	a.env = args[4 : 4+n]
	a.argv = args[5+n:]
	if len(a.argv) == 0 {
		return initArgs{}, fmt.Errorf("init arguments: empty command")
	}
	return a, nil
}

// Status is how a container's command ended, as the init reports it.
type Status struct {
	Code   int
	Signal int
	// OOM says the container's memory cgroup killed a process for want
	// of memory while the command ran.
	OOM bool
}

// String encodes s for the status report.
func (s Status) String() string {
	v := "exit " + strconv.Itoa(s.Code)
	if s.Signal != 0 {
		v = "signal " + strconv.Itoa(s.Signal)
	}
	if s.OOM {
		v += " oom"
	}
	return v
}

// ParseStatus decodes a status report written by the init.
func ParseStatus(b []byte) (Status, error) {
	f := strings.Fields(string(b))
	if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "oom") {
		return Status{}, fmt.Errorf("parse status %q: %w", b, ErrNoStatus)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != f[1] {
		return Status{}, fmt.Errorf("parse status %q: %w", b, ErrNoStatus)
	}
	oom := len(f) == 3
	switch f[0] {
	case "exit":
		return Status{Code: n, OOM: oom}, nil
	case "signal":
		if n == 0 || n > 64 {
			break
		}
		return Status{Signal: n, OOM: oom}, nil
	}
	return Status{}, fmt.Errorf("parse status %q: %w", b, ErrNoStatus)
}
