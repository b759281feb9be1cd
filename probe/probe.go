package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kavach-go/kavach/backend"
)

// Modifier names the part of the score a check backs.
type Modifier string

// The score's parts. Base is the backend's own isolation (namespaces,
// capabilities, what the host can see); None marks checks that carry no
// points but are still expected to pass when the claim says so (a
// writable /tmp, the pids limit, which the original formula does not
// count).
const (
	Base          Modifier = "base"
	Seccomp       Modifier = "seccomp"
	Landlock      Modifier = "landlock"
	NetworkOff    Modifier = "network_off"
	ReadOnlyRoot  Modifier = "read_only_root"
	ResourceLimit Modifier = "resource_limit"
	None          Modifier = "none"
)

// OutputVersion is the version of the probe's JSON output.
const OutputVersion = 1

// HostInfo is what the host side of `kavach verify` tells the probe: the
// markers it prepared, which must all be out of the sandbox's reach, and
// the claim the probe's results are compared with.
type HostInfo struct {
	// Enforced is the sandbox's claim.
	Enforced backend.Enforced `json:"enforced"`
	// Namespaces maps the names under /proc/self/ns ("pid", "net", "mnt",
	// "user", "uts", "ipc", "cgroup") to the host's inode numbers.
	Namespaces map[string]uint64 `json:"namespaces"`
	// PID is a host process (the verifier itself) that must be invisible.
	PID int `json:"pid"`
	// MarkerEnv names an environment variable set in the host process.
	MarkerEnv string `json:"marker_env,omitempty"`
	// MarkerFile is a file the host created (in its /tmp).
	MarkerFile string `json:"marker_file,omitempty"`
	// TCPAddr is a host loopback listener ("127.0.0.1:port").
	TCPAddr string `json:"tcp_addr,omitempty"`
	// AbstractSocket is the name of a host abstract unix socket, without
	// the leading NUL or "@".
	AbstractSocket string `json:"abstract_socket,omitempty"`
	// Workdir is the command's working directory inside the sandbox.
	Workdir string `json:"workdir,omitempty"`
	// Self is the argv that re-runs the probe inside the sandbox; the
	// resource checks append HoldFlag or AllocFlag to it to start helper
	// processes.
	Self []string `json:"self,omitempty"`
	// Kernel is the host's kernel as HostKernel reports it; it tells a
	// sandbox that runs on a kernel of its own (gVisor's sentry) from one
	// on the host's kernel. Empty when unknown.
	Kernel string `json:"kernel,omitempty"`
}

// Flags the probe role understands in its helper processes.
const (
	// HoldFlag makes a helper block until its stdin is closed (see Hold).
	HoldFlag = "--hold"
	// AllocFlag=N makes a helper allocate and touch N MiB (see Alloc).
	AllocFlag = "--alloc"
)

// Result is one check's outcome.
type Result struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Modifier    Modifier `json:"modifier"`
	// Expected says whether the claim implies the check passes.
	Expected bool `json:"expected"`
	// Pass says whether the isolation property holds.
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// Output is what the probe prints.
type Output struct {
	Version int      `json:"version"`
	Checks  []Result `json:"checks"`
}

// Check describes one check of the battery.
type Check struct {
	ID          string
	Description string
	Modifier    Modifier
	expect      func(e *backend.Enforced) bool
}

// Expected reports whether the claim e implies that the check passes.
// Nothing is expected of the noop backend, which runs nothing.
func (c Check) Expected(e backend.Enforced) bool {
	if e.Backend == backend.Noop {
		return false
	}
	return c.expect(&e)
}

func hasNS(name string) func(*backend.Enforced) bool {
	return func(e *backend.Enforced) bool { return slices.Contains(e.Namespaces, name) }
}

func always(*backend.Enforced) bool { return true }

// capsDropped: an empty capability list means all were dropped.
func capsDropped(e *backend.Enforced) bool { return len(e.Capabilities) == 0 }

func seccompOn(e *backend.Enforced) bool { return e.Seccomp != "" }

func ownRoot(e *backend.Enforced) bool {
	return slices.Contains(e.Namespaces, "mount") && e.Root != ""
}

func ownProc(e *backend.Enforced) bool {
	return ownRoot(e) && slices.Contains(e.Namespaces, "pid")
}

func networkIsolated(e *backend.Enforced) bool {
	return e.Network == backend.NetworkNone || e.Network == backend.NetworkProxy
}

// sysClass says what denies a dangerous syscall: the capabilities every
// sandbox drops (capability), both seccomp profiles of
// internal/seccomp (deniedBySeccomp), or only the strict allowlist.
type sysClass int

const (
	capGated      sysClass = 1 << iota // needs a capability the sandbox dropped
	seccompBoth                        // denied by kavach's basic and strict profiles
	seccompStrict                      // denied only by the strict allowlist
)

// syscallCheck is one entry of the dangerous syscall sweep.
type syscallCheck struct {
	id, desc string
	class    sysClass
}

// syscalls is the sweep. The classes mirror internal/seccomp's profiles
// (a test checks them against the compiled filters) and the kernel's
// capability checks.
var syscalls = []syscallCheck{
	{"sys.mount", "mount(2) is denied (remount of a non-mount point)", capGated | seccompBoth},
	{"sys.umount2", "umount2(2) is denied (of a non-mount point)", capGated | seccompBoth},
	{"sys.pivot_root", "pivot_root(2) is denied (between missing paths)", capGated | seccompBoth},
	{"sys.swapon", "swapon(2) is denied (of a missing file)", capGated | seccompBoth},
	{"sys.swapoff", "swapoff(2) is denied (of a missing file)", capGated | seccompBoth},
	{"sys.reboot", "reboot(2) is denied (with a bad magic number)", capGated | seccompBoth},
	{"sys.kexec_load", "kexec_load(2) is denied (with too many segments)", capGated | seccompBoth},
	{"sys.init_module", "init_module(2) is denied (of an empty image)", capGated | seccompBoth},
	{"sys.finit_module", "finit_module(2) is denied (of a bad fd)", capGated | seccompBoth},
	{"sys.delete_module", "delete_module(2) is denied (of a missing module)", capGated | seccompBoth},
	{"sys.acct", "acct(2) is denied (of a missing file)", capGated | seccompBoth},
	{"sys.settimeofday", "settimeofday(2) is denied (changing nothing)", capGated | seccompBoth},
	{"sys.sethostname", "sethostname(2) is denied (with an over-long name)", capGated | seccompBoth},
	{"sys.setdomainname", "setdomainname(2) is denied (with an over-long name)", capGated | seccompBoth},
	{"sys.setns", "setns(2) is denied (into the current network namespace)", capGated | seccompBoth},
	{"sys.ptrace", "ptrace(2) is denied (PEEKDATA of a missing pid)", seccompBoth},
	{"sys.bpf", "bpf(2) is denied (an invalid map)", seccompBoth},
	{"sys.keyctl", "keyctl(2) is denied (reading the session keyring id)", seccompBoth},
	{"sys.add_key", "add_key(2) is denied (of an unknown key type)", seccompBoth},
	{"sys.perf_event_open", "perf_event_open(2) is denied", seccompBoth},
	{"sys.io_uring_setup", "io_uring_setup(2) is denied (with zero entries)", seccompBoth},
	{"sys.userfaultfd", "userfaultfd(2) is denied", seccompBoth},
	{"sys.open_by_handle_at", "open_by_handle_at(2) is denied (the shocker escape)", seccompBoth},
	{"sys.syslog", "syslog(2) cannot read the kernel log", seccompBoth},
	{"sys.clone_newuser", "clone(2) cannot create a user namespace", seccompBoth},
	{"sys.unshare_newuser", "unshare(2) cannot create a user namespace", seccompBoth},
	{"sys.socket_packet", "socket(AF_PACKET) is denied", capGated | seccompBoth},
	{"sys.mknod_char", "mknod(2) cannot create a character device", capGated},
	{"sys.chroot", "chroot(2) is denied", capGated | seccompStrict},
}

func (s syscallCheck) expect(e *backend.Enforced) bool {
	switch {
	case s.class&capGated != 0 && capsDropped(e):
		return true
	case s.class&seccompBoth != 0 && seccompOn(e):
		return true
	case s.class&seccompStrict != 0 && e.Seccomp == "strict":
		return true
	}
	return false
}

func (s syscallCheck) modifier() Modifier {
	if s.class&(seccompBoth|seccompStrict) != 0 {
		return Seccomp
	}
	return Base
}

// nsNames are the namespaces under /proc/self/ns, with the name
// backend.Enforced uses for each.
var nsNames = []struct{ proc, enforced string }{
	{"pid", "pid"}, {"net", "net"}, {"mnt", "mount"}, {"user", "user"},
	{"uts", "uts"}, {"ipc", "ipc"}, {"cgroup", "cgroup"},
}

var catalogue = buildCatalogue()

func buildCatalogue() []Check {
	var cs []Check
	add := func(id, desc string, m Modifier, expect func(*backend.Enforced) bool) {
		cs = append(cs, Check{ID: id, Description: desc, Modifier: m, expect: expect})
	}
	for _, ns := range nsNames {
		expect, m := hasNS(ns.enforced), Base
		if ns.proc == "net" {
			// A sandbox whose network is isolated needs its own network
			// namespace, whatever the namespace list says; sharing the
			// host's costs the network-off points, not the base.
			expect = func(e *backend.Enforced) bool {
				return slices.Contains(e.Namespaces, "net") || networkIsolated(e)
			}
			m = NetworkOff
		}
		add("ns."+ns.proc, fmt.Sprintf("own %s namespace (inode differs from the host's)", ns.proc), m, expect)
	}
	for _, c := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"} {
		add("caps."+c, c+" is empty", Base, capsDropped)
	}
	add("id.uid", "the command runs as the claimed uid", None, always)
	add("nnp", "no_new_privs is set", Seccomp, func(e *backend.Enforced) bool { return e.NoNewPrivs })
	add("seccomp.mode", "a seccomp filter is installed (Seccomp: 2)", Seccomp, seccompOn)
	for _, s := range syscalls {
		add(s.id, s.desc, s.modifier(), s.expect)
	}
	landlockOn := func(e *backend.Enforced) bool { return e.LandlockRules > 0 }
	add("landlock.abi", "the kernel's Landlock ABI is at least the claimed one", Landlock, landlockOn)
	add("landlock.write", "Landlock denies writes outside the granted paths (EACCES)", Landlock, landlockOn)
	add("landlock.tcp", "Landlock denies TCP connects and binds to ports not granted (EACCES)", Landlock,
		func(e *backend.Enforced) bool { return e.LandlockNetRules > 0 })
	ro := func(e *backend.Enforced) bool { return e.ReadOnlyRoot }
	add("ro.root", "/ is not writable", ReadOnlyRoot, ro)
	add("ro.usr", "/usr is not writable", ReadOnlyRoot, ro)
	add("ro.etc", "/etc is not writable", ReadOnlyRoot, ro)
	add("rw.tmp", "/tmp is writable", None, ownRoot)
	add("rw.workdir", "the working directory is writable", None, ownRoot)
	add("host.pid", "the host's process is not visible", Base, hasNS("pid"))
	add("host.procs", "every visible process is in the sandbox's pid namespace", Base, ownProc)
	add("host.marker_file", "a file the host created in its /tmp is absent", Base, ownRoot)
	add("host.shadow", "/etc/shadow is absent or unreadable", Base, ownRoot)
	add("host.root_home", "the host's /root is absent or empty", Base, ownRoot)
	add("host.env", "an environment variable of the host process is absent", Base, always)
	add("proc.kcore", "/proc/kcore is masked", Base, ownProc)
	add("proc.sysrq", "/proc/sysrq-trigger is masked or cannot be written", Base, ownProc)
	add("proc.timer_list", "/proc/timer_list is masked", Base, ownProc)
	add("proc.kallsyms", "/proc/kallsyms shows no kernel addresses (KASLR not leaked)", Base, ownProc)
	add("proc.sys_ro", "/proc/sys is read-only", Base, ownProc)
	add("sys.ro", "/sys is absent or read-only", Base, ownRoot)
	add("dev.nodes", "/dev holds only null, zero, full, random, urandom, tty, ptmx and pts (and gVisor's emulated fuse and net/tun)", Base, ownRoot)
	add("fd.leaked", "only fds 0, 1 and 2 are open at start", Base, always)
	add("net.host_tcp", "a host loopback TCP listener is unreachable", NetworkOff, networkIsolated)
	add("net.interfaces", "no interface but loopback", NetworkOff, networkIsolated)
	add("net.route", "no route to the internet (UDP connect to 192.0.2.1)", NetworkOff, networkIsolated)
	add("net.host_abstract", "a host abstract unix socket is unreachable", NetworkOff,
		func(e *backend.Enforced) bool { return networkIsolated(e) || e.LandlockScoped })
	add("limits.memory", "the memory limit is in force (an allocation beyond it fails)", ResourceLimit,
		func(e *backend.Enforced) bool { return e.MemoryLimitMB > 0 })
	add("limits.cpu", "the CPU limit is in force (busy threads get no more than it)", ResourceLimit,
		func(e *backend.Enforced) bool { return e.CPULimit > 0 })
	add("limits.pids", "the pids limit is in force (fork fails before max_pids+16 children)", None,
		func(e *backend.Enforced) bool { return e.MaxPids > 0 })
	return cs
}

// Checks returns the battery in the order it runs.
func Checks() []Check { return slices.Clone(catalogue) }

func lookup(id string) (Check, bool) {
	for _, c := range catalogue {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// ParseOutput reads the probe's JSON output. It accepts leading and
// trailing noise lines (a backend's own messages) around exactly one
// JSON object.
func ParseOutput(b []byte) (Output, error) {
	var out Output
	start := bytes.IndexByte(b, '{')
	end := bytes.LastIndexByte(b, '}')
	if start < 0 || end < start {
		return out, fmt.Errorf("%w: no JSON object in %d bytes", ErrOutput, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b[start : end+1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if out.Version != OutputVersion {
		return out, fmt.Errorf("%w: version %d, want %d", ErrOutput, out.Version, OutputVersion)
	}
	return out, nil
}

// Supported returns nil when sandboxes of kind can run the probe (a
// native Linux program that inspects its kernel's view of itself), or an
// error wrapping ErrUnsupportedBackend that says why not.
func Supported(kind backend.Kind) error {
	switch kind {
	case backend.Wasm:
		return fmt.Errorf("%w: %s runs only WebAssembly modules (WASI preview 1), which make no system calls and have no /proc, namespaces or devices to inspect; its isolation is wazero's, not the kernel's", ErrUnsupportedBackend, kind)
	case backend.Noop:
		return fmt.Errorf("%w: %s runs no command, so there is nothing to probe", ErrUnsupportedBackend, kind)
	}
	return nil
}
