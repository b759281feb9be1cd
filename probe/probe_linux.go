package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/backend"
)

// prober holds what the checks share.
type prober struct {
	ctx       context.Context
	h         HostInfo
	status    Status
	statusErr error
	fds       []string // fds open when Run started, other than 0-2
	fdErr     error
}

type checkFunc func(p *prober) (pass bool, detail string)

// impls maps every check of the battery to its implementation; a test
// checks that the two lists match.
var impls = map[string]checkFunc{}

func init() {
	for _, ns := range nsNames {
		impls["ns."+ns.proc] = func(p *prober) (bool, string) { return p.namespace(ns.proc) }
	}
	for _, c := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"} {
		impls["caps."+c] = func(p *prober) (bool, string) {
			if p.statusErr != nil {
				return false, p.statusErr.Error()
			}
			v, _ := p.status.Cap(c)
			return v == 0, fmt.Sprintf("%s %016x", c, v)
		}
	}
	for id, f := range sweep {
		impls[id] = f
	}
	more := map[string]checkFunc{
		"id.uid":            (*prober).uid,
		"nnp":               (*prober).noNewPrivs,
		"seccomp.mode":      (*prober).seccompMode,
		"landlock.abi":      (*prober).landlockABI,
		"landlock.write":    (*prober).landlockWrite,
		"landlock.tcp":      (*prober).landlockTCP,
		"ro.root":           func(p *prober) (bool, string) { return notWritable("/") },
		"ro.usr":            func(p *prober) (bool, string) { return notWritable("/usr") },
		"ro.etc":            func(p *prober) (bool, string) { return notWritable("/etc") },
		"rw.tmp":            func(p *prober) (bool, string) { return writable("/tmp") },
		"rw.workdir":        (*prober).workdir,
		"host.pid":          (*prober).hostPID,
		"host.procs":        (*prober).hostProcs,
		"host.marker_file":  (*prober).markerFile,
		"host.shadow":       (*prober).shadow,
		"host.root_home":    (*prober).rootHome,
		"host.env":          (*prober).hostEnv,
		"proc.kcore":        func(p *prober) (bool, string) { return masked("/proc/kcore", unix.O_RDONLY) },
		"proc.sysrq":        func(p *prober) (bool, string) { return sysrq("/proc/sysrq-trigger") },
		"proc.sys_ro":       (*prober).procSys,
		"proc.timer_list":   func(p *prober) (bool, string) { return masked("/proc/timer_list", unix.O_RDONLY) },
		"proc.kallsyms":     (*prober).kallsyms,
		"sys.ro":            (*prober).sysfs,
		"dev.nodes":         (*prober).devNodes,
		"fd.leaked":         (*prober).leakedFDs,
		"net.host_tcp":      (*prober).hostTCP,
		"net.interfaces":    (*prober).interfaces,
		"net.route":         (*prober).route,
		"net.host_abstract": (*prober).hostAbstract,
		"limits.memory":     (*prober).memory,
		"limits.cpu":        (*prober).cpu,
		"limits.pids":       (*prober).pids,
	}
	for id, f := range more {
		impls[id] = f
	}
}

// Run runs the battery inside a sandbox and returns every result. It
// first snapshots the open file descriptors (before anything else opens
// one), then refuses with an error wrapping ErrNotSandboxed unless Guard
// allows it. A check that panics fails with the panic as its detail.
func Run(ctx context.Context, h HostInfo) (Output, error) {
	fds, fdErr := openFDs()
	st, stErr := readStatus()
	gf := GuardFacts{PID: os.Getpid(), HostPID: h.Namespaces["pid"], HostUser: h.Namespaces["user"]}
	gf.PIDNS, _ = nsInode("pid")
	gf.UserNS, _ = nsInode("user")
	if stErr != nil {
		return Output{}, fmt.Errorf("%w: %w", ErrNotSandboxed, stErr)
	}
	gf.CapEff = st.CapEff
	gf.KernelThreads = kernelThreadsVisible()
	if b, err := os.ReadFile("/proc/self/uid_map"); err == nil {
		if m, err := ParseIDMap(b); err == nil {
			gf.IdentityUIDMap = len(m) == 1 && m[0] == IDMapping{Inside: 0, Outside: 0, Count: 4294967295}
		}
	}
	if err := Guard(gf); err != nil {
		return Output{}, err
	}
	p := &prober{ctx: ctx, h: h, status: st, statusErr: stErr, fds: fds, fdErr: fdErr}
	out := Output{Version: OutputVersion}
	for _, c := range catalogue {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("run probe: %w", err)
		}
		pass, detail := p.run(impls[c.ID])
		out.Checks = append(out.Checks, Result{
			ID: c.ID, Description: c.Description, Modifier: c.Modifier,
			Expected: c.Expected(h.Enforced), Pass: pass, Detail: detail,
		})
	}
	return out, nil
}

func (p *prober) run(f checkFunc) (pass bool, detail string) {
	if f == nil {
		return false, "not implemented on this platform"
	}
	defer func() {
		if r := recover(); r != nil {
			pass, detail = false, fmt.Sprintf("check panicked: %v", r)
		}
	}()
	return f(p)
}

// kernelThreadsVisible reports whether pid 2 is kthreadd, the parent of
// kernel threads: true only in the initial pid namespace. (A parent of 0
// alone proves nothing: a process started into a pid namespace from
// outside it has one too.)
func kernelThreadsVisible() bool {
	b, err := os.ReadFile("/proc/2/status")
	if err != nil {
		return false
	}
	st, err := ParseStatus(b)
	return err == nil && st.Fields["PPid"] == "0" && st.Fields["Name"] == "kthreadd"
}

// HostNamespaces returns this process's namespace inodes by the names
// under /proc/self/ns, for HostInfo.Namespaces.
func HostNamespaces() (map[string]uint64, error) {
	m := make(map[string]uint64, len(nsNames))
	for _, ns := range nsNames {
		ino, err := nsInode(ns.proc)
		if err != nil {
			return nil, err
		}
		m[ns.proc] = ino
	}
	return m, nil
}

func nsInode(name string) (uint64, error) {
	return nsInodeOf("/proc/self/ns/" + name)
}

func nsInodeOf(path string) (uint64, error) {
	link, err := os.Readlink(path)
	if err != nil {
		return 0, fmt.Errorf("read namespace %s: %w", path, err)
	}
	_, ino, err := ParseNSLink(link)
	return ino, err
}

func readStatus() (Status, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	return ParseStatus(b)
}

// openFDs lists /proc/self/fd with raw syscalls, so that listing it
// opens no descriptor but its own (which it leaves out).
func openFDs() ([]string, error) {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/fd: %w", err)
	}
	defer unix.Close(dfd)
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(dfd, buf)
		if err != nil {
			return nil, fmt.Errorf("read /proc/self/fd: %w", err)
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	var out []string
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == dfd || fd <= 2 {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + name)
		out = append(out, name+" -> "+target)
	}
	return out, nil
}

func (p *prober) namespace(name string) (bool, string) {
	host, ok := p.h.Namespaces[name]
	if !ok || host == 0 {
		return false, "the host passed no inode for " + name
	}
	own, err := nsInode(name)
	if err != nil {
		return false, err.Error()
	}
	return own != host, fmt.Sprintf("%s:[%d], host %s:[%d]", name, own, name, host)
}

func (p *prober) uid() (bool, string) {
	uid := os.Getuid()
	detail := fmt.Sprintf("uid %d, claimed %d", uid, p.h.Enforced.UID)
	if b, err := os.ReadFile("/proc/self/uid_map"); err == nil {
		if m, err := ParseIDMap(b); err == nil {
			if out, ok := MapID(m, uint32(uid)); ok {
				detail += fmt.Sprintf(" (host uid %d)", out)
			}
		}
	}
	return uid == p.h.Enforced.UID, detail
}

func (p *prober) noNewPrivs() (bool, string) {
	if p.statusErr != nil {
		return false, p.statusErr.Error()
	}
	return p.status.NoNewPrivs == 1, fmt.Sprintf("NoNewPrivs %d", p.status.NoNewPrivs)
}

func (p *prober) seccompMode() (bool, string) {
	if p.statusErr != nil {
		return false, p.statusErr.Error()
	}
	names := map[int]string{-1: "not reported", 0: "disabled", 1: "strict", 2: "filter"}
	detail := fmt.Sprintf("Seccomp %d (%s)", p.status.Seccomp, names[p.status.Seccomp])
	if f, ok := p.status.Fields["Seccomp_filters"]; ok {
		detail += ", " + f + " filters"
	}
	return p.status.Seccomp == 2, detail
}

// errnoOf returns the errno in err, or 0.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// deniedBy reports whether err is one of the denial errnos.
func deniedBy(err error, denial ...syscall.Errno) bool {
	return err != nil && slices.Contains(denial, errnoOf(err))
}

// verdict turns a syscall's outcome into a check result: the check passes
// when the call was refused with one of denial (EPERM and ENOSYS unless
// given).
func verdict(err error, denial ...syscall.Errno) (bool, string) {
	if len(denial) == 0 {
		denial = []syscall.Errno{unix.EPERM, unix.ENOSYS}
	}
	if err == nil {
		return false, "allowed: the call succeeded"
	}
	if deniedBy(err, denial...) {
		return true, "denied: " + errName(err)
	}
	return false, "allowed: reached the kernel, which answered " + errName(err)
}

func errName(err error) string {
	if e := errnoOf(err); e != 0 {
		if n := unix.ErrnoName(e); n != "" {
			return n + " (" + e.Error() + ")"
		}
	}
	return err.Error()
}

// errOf turns a raw syscall's errno into an error.
func errOf(_, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// fdErrOf is errOf for calls that return a descriptor, which it closes.
func fdErrOf(r, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	unix.Close(int(r))
	return nil
}

// cstr returns s as a NUL-terminated C string. Pointers are converted to
// uintptr only inside the unix.Syscall call expressions, which keeps them
// valid for the call.
func cstr(s string) *byte {
	b, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return b
}

const missingPath = "/nonexistent-kavach-probe"

// sweep holds the dangerous syscalls. Every call uses arguments that make
// it fail harmlessly after the privilege check, or do nothing, where the
// kernel lets it through; the comment of each says how.
var sweep = map[string]checkFunc{
	// MS_REMOUNT|MS_BIND of /proc/self, which is no mount point: EINVAL
	// after the capability check.
	"sys.mount": func(*prober) (bool, string) {
		return verdict(unix.Mount("", "/proc/self", "", unix.MS_REMOUNT|unix.MS_BIND, ""))
	},
	// /proc/self is no mount point: EINVAL after the capability check.
	"sys.umount2": func(*prober) (bool, string) { return verdict(unix.Unmount("/proc/self", 0)) },
	// may_mount comes before the lookup of the missing paths (ENOENT).
	"sys.pivot_root": func(*prober) (bool, string) {
		return verdict(unix.PivotRoot(missingPath+"-a", missingPath+"-b"))
	},
	// CAP_SYS_ADMIN is checked before the missing file is looked up.
	"sys.swapon": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_SWAPON, uintptr(unsafe.Pointer(cstr(missingPath))), 0, 0, 0, 0, 0)))
	},
	"sys.swapoff": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(cstr(missingPath))), 0, 0, 0, 0, 0)))
	},
	// CAP_SYS_BOOT is checked before the magic numbers, which are wrong
	// here (EINVAL).
	"sys.reboot": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_REBOOT, 0xdead, 0xbeef, unix.LINUX_REBOOT_CMD_CAD_OFF, 0, 0, 0)))
	},
	// The permission check comes before the segment count, which exceeds
	// KEXEC_SEGMENT_MAX (EINVAL); zero segments would unload an image.
	"sys.kexec_load": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 1<<20, 0, 0, 0, 0)))
	},
	// An empty image fails with ENOEXEC after the capability check.
	"sys.init_module": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(cstr(""))), 0, 0, 0)))
	},
	// fd -1: EBADF after the capability check.
	"sys.finit_module": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(cstr(""))), 0, 0, 0, 0)))
	},
	"sys.delete_module": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(cstr("kavach_probe_nonexistent"))), unix.O_NONBLOCK, 0, 0, 0, 0)))
	},
	// CAP_SYS_PACCT first, then the missing file; acct(NULL) would turn
	// accounting off, so a path is always given.
	"sys.acct": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_ACCT, uintptr(unsafe.Pointer(cstr(missingPath))), 0, 0, 0, 0, 0)))
	},
	// With both arguments NULL only the CAP_SYS_TIME check runs.
	"sys.settimeofday": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_SETTIMEOFDAY, 0, 0, 0, 0, 0, 0)))
	},
	// The capability check comes before the length check (65 > 64: EINVAL).
	"sys.sethostname": func(*prober) (bool, string) {
		name := strings.Repeat("x", 65)
		return verdict(errOf(unix.Syscall6(unix.SYS_SETHOSTNAME, uintptr(unsafe.Pointer(cstr(name))), 65, 0, 0, 0, 0)))
	},
	"sys.setdomainname": func(*prober) (bool, string) {
		name := strings.Repeat("x", 65)
		return verdict(errOf(unix.Syscall6(unix.SYS_SETDOMAINNAME, uintptr(unsafe.Pointer(cstr(name))), 65, 0, 0, 0, 0)))
	},
	// Joining the network namespace the thread is already in changes
	// nothing.
	"sys.setns": func(*prober) (bool, string) {
		fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, "cannot open /proc/self/ns/net: " + errName(err)
		}
		defer unix.Close(fd)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		return verdict(unix.Setns(fd, unix.CLONE_NEWNET))
	},
	// No pid is this large (PID_MAX_LIMIT is 2^22): ESRCH when allowed.
	"sys.ptrace": func(*prober) (bool, string) {
		return verdict(errOf(unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, 0x7ffffffe, 0, 0, 0, 0)))
	},
	// BPF_MAP_CREATE of map type 0 (unspec): EINVAL when allowed.
	"sys.bpf": func(*prober) (bool, string) {
		var attr [128]byte
		return verdict(fdErrOf(unix.Syscall6(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)), 0, 0, 0)))
	},
	// KEYCTL_GET_KEYRING_ID of the session keyring without creating it.
	"sys.keyctl": func(*prober) (bool, string) {
		ring := int32(unix.KEY_SPEC_SESSION_KEYRING)
		return verdict(errOf(unix.Syscall6(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(uint32(ring)), 0, 0, 0, 0)))
	},
	// A "user" key with an empty payload fails with EINVAL in the type's
	// preparse; an unknown type would make the kernel run modprobe on the
	// host.
	"sys.add_key": func(*prober) (bool, string) {
		ring := int32(unix.KEY_SPEC_PROCESS_KEYRING)
		return verdict(errOf(unix.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(cstr("user"))), uintptr(unsafe.Pointer(cstr("kavach-probe"))), 0, 0, uintptr(uint32(ring)), 0)))
	},
	// A software dummy counter on this process, closed at once.
	"sys.perf_event_open": func(*prober) (bool, string) {
		attr := unix.PerfEventAttr{
			Type:   unix.PERF_TYPE_SOFTWARE,
			Config: unix.PERF_COUNT_SW_DUMMY,
			Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
			Bits:   unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv,
		}
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		return verdict(err, unix.EPERM, unix.EACCES, unix.ENOSYS)
	},
	// Zero entries: EINVAL when allowed.
	"sys.io_uring_setup": func(*prober) (bool, string) {
		var params [120]byte
		return verdict(fdErrOf(unix.Syscall6(unix.SYS_IO_URING_SETUP, 0, uintptr(unsafe.Pointer(&params[0])), 0, 0, 0, 0)))
	},
	// UFFD_USER_MODE_ONLY needs no privilege, so only seccomp denies it.
	"sys.userfaultfd": func(*prober) (bool, string) {
		const uffdUserModeOnly = 1
		return verdict(fdErrOf(unix.Syscall6(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0, 0, 0, 0)))
	},
	// A NULL handle: EFAULT when the call gets that far.
	"sys.open_by_handle_at": func(*prober) (bool, string) {
		cwd := int32(unix.AT_FDCWD)
		return verdict(fdErrOf(unix.Syscall6(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(uint32(cwd)), 0, unix.O_RDONLY, 0, 0, 0)))
	},
	// SYSLOG_ACTION_READ_ALL reads without consuming.
	"sys.syslog": func(*prober) (bool, string) {
		var buf [64]byte
		return verdict(errOf(unix.Syscall6(unix.SYS_SYSLOG, unix.SYSLOG_ACTION_READ_ALL, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)))
	},
	"sys.clone_newuser":   func(*prober) (bool, string) { return newUserNS(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}) },
	"sys.unshare_newuser": func(*prober) (bool, string) { return newUserNS(&syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWUSER}) },
	"sys.socket_packet": func(*prober) (bool, string) {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return verdict(err, unix.EPERM, unix.EACCES, unix.ENOSYS, unix.EAFNOSUPPORT)
	},
	// A /dev/null twin in /tmp, removed at once if it could be made.
	"sys.mknod_char": func(*prober) (bool, string) {
		path := fmt.Sprintf("/tmp/.kavach-probe-mknod-%d", os.Getpid())
		err := unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
		if err == nil {
			os.Remove(path)
		}
		return verdict(err, unix.EPERM, unix.EACCES, unix.EROFS, unix.ENOSYS)
	},
	// chroot("/") keeps the root where it is.
	"sys.chroot": func(*prober) (bool, string) { return verdict(unix.Chroot("/")) },
}

// newUserNS starts a child with attr's namespace flags that execs a
// missing file: the start fails with ENOENT only when the namespace was
// created, and with the denial otherwise. Go processes are multithreaded,
// so unshare(CLONE_NEWUSER) can only be tried in a fresh child.
func newUserNS(attr *syscall.SysProcAttr) (bool, string) {
	pid, err := syscall.ForkExec(missingPath, []string{missingPath}, &syscall.ProcAttr{Sys: attr})
	if err == nil {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		return false, "allowed: a child in a new user namespace started"
	}
	if errnoOf(err) == unix.ENOENT {
		return false, "allowed: the namespace was created (the exec of a missing file failed after it)"
	}
	return true, "denied: " + errName(err)
}

func (p *prober) landlockABI() (bool, string) {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return false, "landlock_create_ruleset: " + errName(e)
	}
	claimed := p.h.Enforced.LandlockABI
	return int(abi) >= max(1, claimed), fmt.Sprintf("kernel ABI %d, claimed %d", abi, claimed)
}

// landlockWrite looks for a write that only Landlock can refuse: opening
// /proc/self/comm (owned by this process, on a read-write /proc) for
// writing, and creating files in directories this uid owns on read-write
// mounts. EACCES there is Landlock's; EROFS is the mount's and proves
// nothing about Landlock. A write that succeeds fails the check.
func (p *prober) landlockWrite() (bool, string) {
	var notes []string
	evidence := false
	fd, err := unix.Open("/proc/self/comm", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		unix.Close(fd)
		return false, "/proc/self/comm opened for writing"
	case errnoOf(err) == unix.EACCES:
		evidence = true
	}
	notes = append(notes, "/proc/self/comm: "+errName(err))
	uid := uint32(os.Geteuid())
	for _, dir := range []string{"/", "/dev", "/etc", "/run", "/var", "/usr"} {
		var st unix.Stat_t
		if unix.Stat(dir, &st) != nil || st.Uid != uid || st.Mode&0o200 == 0 {
			continue // DAC, not Landlock, would decide
		}
		ok, err := tryCreate(dir)
		if ok {
			return false, dir + " is writable"
		}
		if errnoOf(err) == unix.EACCES {
			evidence = true
		}
		notes = append(notes, dir+": "+errName(err))
	}
	return evidence, strings.Join(notes, "; ")
}

func (p *prober) landlockTCP() (bool, string) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, "socket: " + errName(err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: 1, Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		return false, "connect to 127.0.0.1:1 succeeded"
	}
	connect := "connect to 127.0.0.1:1: " + errName(err)
	if errnoOf(err) != unix.EACCES {
		return false, connect
	}
	// Binding port 0 (an ephemeral port) needs a Landlock rule for port 0,
	// which no policy grants; unlike a low port, nothing but Landlock
	// refuses it.
	bfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, connect + "; socket: " + errName(err)
	}
	defer unix.Close(bfd)
	err = unix.Bind(bfd, &unix.SockaddrInet4{Port: 0, Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		return false, connect + "; bind to 127.0.0.1:0 succeeded"
	}
	return errnoOf(err) == unix.EACCES, connect + "; bind to 127.0.0.1:0: " + errName(err)
}

// tryCreate creates and removes a file in dir.
func tryCreate(dir string) (bool, error) {
	path := filepath.Join(dir, fmt.Sprintf(".kavach-probe-%d-%d", os.Getpid(), time.Now().UnixNano()))
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false, err
	}
	unix.Close(fd)
	unix.Unlink(path)
	return true, nil
}

func notWritable(dir string) (bool, string) {
	ok, err := tryCreate(dir)
	if ok {
		return false, "created a file in " + dir
	}
	return true, "create in " + dir + ": " + errName(err)
}

func writable(dir string) (bool, string) {
	ok, err := tryCreate(dir)
	if ok {
		return true, "created a file in " + dir
	}
	return false, "create in " + dir + ": " + errName(err)
}

func (p *prober) workdir() (bool, string) {
	dir := p.h.Workdir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return false, "getwd: " + err.Error()
		}
	}
	return writable(dir)
}

func (p *prober) hostPID() (bool, string) {
	if p.h.PID <= 0 {
		return false, "the host passed no pid"
	}
	dir := fmt.Sprintf("/proc/%d", p.h.PID)
	if _, err := os.Lstat(dir); err != nil {
		return true, fmt.Sprintf("host pid %d: %s", p.h.PID, errName(err))
	}
	own, err1 := nsInode("pid")
	their, err2 := nsInodeOf(dir + "/ns/pid")
	// The same number can belong to a process of the sandbox's own pid
	// namespace; a process in the host's is the host's.
	if err1 == nil && err2 == nil && own == their && own != p.h.Namespaces["pid"] {
		return true, fmt.Sprintf("pid %d exists but is a process of this sandbox", p.h.PID)
	}
	return false, fmt.Sprintf("pid %d is visible and outside this pid namespace", p.h.PID)
}

func (p *prober) hostProcs() (bool, string) {
	own, err := nsInode("pid")
	if err != nil {
		return false, err.Error()
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false, "read /proc: " + err.Error()
	}
	var n int
	var foreign []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		n++
		ino, err := nsInodeOf("/proc/" + e.Name() + "/ns/pid")
		if err != nil {
			continue // exited meanwhile, or not ours to read
		}
		if ino != own {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		return false, fmt.Sprintf("%d of %d processes are in another pid namespace: %s", len(foreign), n, strings.Join(foreign, " "))
	}
	return n > 0, fmt.Sprintf("%d processes, all in pid:[%d]", n, own)
}

func (p *prober) markerFile() (bool, string) {
	if p.h.MarkerFile == "" {
		return false, "the host passed no marker file"
	}
	if _, err := os.Lstat(p.h.MarkerFile); err != nil {
		return true, p.h.MarkerFile + ": " + errName(err)
	}
	return false, p.h.MarkerFile + " is visible"
}

func (p *prober) shadow() (bool, string) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return true, "/etc/shadow: " + errName(err)
	}
	defer f.Close()
	var b [1]byte
	if n, _ := f.Read(b[:]); n == 0 {
		return true, "/etc/shadow is empty"
	}
	return false, "/etc/shadow is readable"
}

func (p *prober) rootHome() (bool, string) {
	ents, err := os.ReadDir("/root")
	if err != nil {
		return true, "/root: " + errName(err)
	}
	if len(ents) == 0 {
		return true, "/root is empty"
	}
	var names []string
	for _, e := range ents[:min(len(ents), 5)] {
		names = append(names, e.Name())
	}
	return false, fmt.Sprintf("/root holds %d entries: %s", len(ents), strings.Join(names, " "))
}

func (p *prober) hostEnv() (bool, string) {
	if p.h.MarkerEnv == "" {
		return false, "the host passed no marker variable"
	}
	if _, ok := os.LookupEnv(p.h.MarkerEnv); ok {
		return false, p.h.MarkerEnv + " is set"
	}
	return true, fmt.Sprintf("%s is absent (%d variables set)", p.h.MarkerEnv, len(os.Environ()))
}

// masked reports whether a sensitive /proc file is hidden: absent, a
// device node bound over it, empty, or not openable with mode.
func masked(path string, mode int) (bool, string) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return true, path + ": " + errName(err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR {
		return true, fmt.Sprintf("%s is masked by device %d:%d", path, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	fd, err := unix.Open(path, mode|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, path + ": " + errName(err)
	}
	unix.Close(fd)
	return false, path + " can be opened"
}

// kallsyms reads the first symbols of /proc/kallsyms: the kernel prints
// zero addresses to a reader it does not trust with them.
func (p *prober) kallsyms() (bool, string) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return true, "/proc/kallsyms: " + errName(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; i < 16 && sc.Scan(); i++ {
		addr, _, _ := strings.Cut(sc.Text(), " ")
		if strings.Trim(addr, "0") != "" {
			return false, "kernel address visible: " + sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		return true, "/proc/kallsyms: " + errName(err)
	}
	return true, "addresses read as zero"
}

func (p *prober) procSys() (bool, string) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc/sys", &fs); err != nil {
		return true, "/proc/sys: " + errName(err)
	}
	if fs.Flags&unix.ST_RDONLY != 0 {
		return true, "/proc/sys is mounted read-only"
	}
	fd, err := unix.Open("/proc/sys/kernel/hostname", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, "/proc/sys/kernel/hostname: " + errName(err)
	}
	unix.Close(fd)
	return false, "/proc/sys/kernel/hostname can be opened for writing"
}

func (p *prober) sysfs() (bool, string) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys", &fs); err != nil {
		return true, "/sys: " + errName(err)
	}
	if fs.Type != unix.SYSFS_MAGIC {
		return true, fmt.Sprintf("no sysfs at /sys (filesystem %#x)", fs.Type)
	}
	if fs.Flags&unix.ST_RDONLY != 0 {
		return true, "sysfs is mounted read-only"
	}
	return false, "sysfs is mounted read-write"
}

// allowedDevs are the device nodes a sandbox's /dev may hold.
var allowedDevs = []string{"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts/ptmx"}

// gvisorDevs are the devices gVisor's sentry always provides, emulated
// by the sentry itself (its own FUSE server side and its own network
// stack's tun), with their device numbers. Opening them reaches the
// sentry, never a host driver.
var gvisorDevs = map[string][2]uint32{"fuse": {10, 229}, "net/tun": {10, 200}}

// HostKernel returns the running kernel's release and version (uname
// -r -v), which HostInfo.Kernel carries into the sandbox.
func HostKernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:])
}

// ownKernel says why the devices this process opens cannot be the
// host's, or returns "" when it cannot tell: the claim is gVisor and
// the kernel answering uname is not the host's (the sentry's own).
func (p *prober) ownKernel() string {
	if p.h.Enforced.Backend != backend.GVisor || p.h.Kernel == "" {
		return ""
	}
	if k := HostKernel(); k != "" && k != p.h.Kernel {
		return fmt.Sprintf("the kernel here is gVisor's sentry (%q, the host runs %q)", k, p.h.Kernel)
	}
	return ""
}

func (p *prober) devNodes() (bool, string) { return p.devNodesIn("/dev") }

// devNodesIn checks the device nodes below dir, the sandbox's /dev.
func (p *prober) devNodesIn(dir string) (bool, string) {
	var bad, seen, emulated []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		// The directory entry's type is that of the file under a bind
		// mount; lstat sees what is mounted on it, which is what a program
		// opening the path gets.
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil {
			return nil
		}
		kind := st.Mode & unix.S_IFMT
		if kind != unix.S_IFCHR && kind != unix.S_IFBLK {
			return nil
		}
		rel := strings.TrimPrefix(path, dir+"/")
		if kind == unix.S_IFCHR && (slices.Contains(allowedDevs, rel) || isPtyName(rel)) {
			seen = append(seen, rel)
			return nil
		}
		dev := fmt.Sprintf("%s (%d:%d)", rel, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		if n, ok := gvisorDevs[rel]; ok && kind == unix.S_IFCHR && n == [2]uint32{unix.Major(st.Rdev), unix.Minor(st.Rdev)} {
			emulated = append(emulated, dev)
			return nil
		}
		bad = append(bad, dev)
		return nil
	})
	if err != nil {
		return false, "walk " + dir + ": " + err.Error()
	}
	if len(emulated) > 0 {
		why := p.ownKernel()
		if why == "" {
			bad = append(bad, emulated...)
		} else {
			seen = append(seen, emulated...)
			if len(bad) == 0 {
				return true, "devices: " + strings.Join(seen, " ") + "; " + strings.Join(emulated, " and ") +
					" are emulated by gVisor, not the host's: " + why
			}
		}
	}
	if len(bad) > 0 {
		return false, "unexpected devices: " + strings.Join(bad, " ")
	}
	return true, "devices: " + strings.Join(seen, " ")
}

// sysrq judges /proc/sysrq-trigger by effect: it passes when the file is
// masked, cannot be opened for writing, or refuses a write. The write is
// of a key that names no sysrq operation (a newline), so even a host
// kernel would only log its help text; gVisor's own /proc opens the file
// and fails the write with EIO.
func sysrq(path string) (bool, string) {
	if pass, detail := masked(path, unix.O_WRONLY); pass {
		return pass, detail
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, path + ": " + errName(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte("\n")); err != nil {
		return true, path + " can be opened but not written: " + errName(err)
	}
	return false, path + " accepted a write"
}

func isPtyName(rel string) bool {
	n, ok := strings.CutPrefix(rel, "pts/")
	if !ok {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// cgroupCPUFiles are the cgroup files holding the CPU limit (cgroup v2
// cpu.max; v1 cpu.cfs_quota_us and cpu.cfs_period_us). The Go runtime
// (1.25 and later) reads them at start for its cgroup-aware GOMAXPROCS
// and keeps them open to re-read the limit, so a Go program, the probe
// included, starts with them open wherever its cgroup is mounted (the
// oci backend mounts it read-only at /sys/fs/cgroup).
var cgroupCPUFiles = []string{"cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us"}

// runtimeFD matches, by its /proc/self/fd description ("N -> target"),
// a descriptor the Go runtime may have opened for itself: its
// netpoller's epoll and eventfd, or a cgroup CPU-limit file. A cgroup
// file still has to pass runtimeCgroupFD.
func runtimeFD(desc string) bool {
	if strings.HasSuffix(desc, "anon_inode:[eventpoll]") || strings.HasSuffix(desc, "anon_inode:[eventfd]") {
		return true
	}
	_, target, ok := strings.Cut(desc, " -> ")
	return ok && cgroupCPUPath(target)
}

// cgroupCPUPath reports whether target names a cgroup CPU-limit file
// below /sys/fs/cgroup, where the runtime finds it through
// /proc/self/mountinfo in a container.
func cgroupCPUPath(target string) bool {
	return strings.HasPrefix(target, "/sys/fs/cgroup/") && filepath.Clean(target) == target &&
		slices.Contains(cgroupCPUFiles, filepath.Base(target))
}

// Filesystem magic numbers of cgroup v1 and v2 (linux/magic.h).
const (
	cgroupSuperMagic  = 0x27e0eb
	cgroup2SuperMagic = 0x63677270
)

// runtimeCgroupFD checks that descriptor fd, whose description names a
// cgroup CPU-limit file, is what the Go runtime opens and nothing a host
// could have leaked in its place: open read-only, on a cgroup file
// system, and the very file found at that path in this sandbox's own
// mount namespace (a descriptor from outside would be another inode, or
// not reachable here at all).
func runtimeCgroupFD(fd int, target string) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("fcntl: %s", errName(err))
	}
	if fl&unix.O_ACCMODE != unix.O_RDONLY {
		return fmt.Errorf("open for writing (flags %#o)", fl)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return fmt.Errorf("fstatfs: %s", errName(err))
	}
	if fs.Type != cgroupSuperMagic && fs.Type != cgroup2SuperMagic {
		return fmt.Errorf("not on a cgroup file system (magic %#x)", fs.Type)
	}
	var byFD, byPath unix.Stat_t
	if err := unix.Fstat(fd, &byFD); err != nil {
		return fmt.Errorf("fstat: %s", errName(err))
	}
	if err := unix.Stat(target, &byPath); err != nil {
		return fmt.Errorf("%s: %s", target, errName(err))
	}
	if byFD.Dev != byPath.Dev || byFD.Ino != byPath.Ino {
		return fmt.Errorf("not the file at %s in this sandbox", target)
	}
	return nil
}

func (p *prober) leakedFDs() (bool, string) {
	if p.fdErr != nil {
		return false, p.fdErr.Error()
	}
	var leaked, runtimeOwned []string
	for _, d := range p.fds {
		if !runtimeFD(d) {
			leaked = append(leaked, d)
			continue
		}
		n, target, _ := strings.Cut(d, " -> ")
		if !cgroupCPUPath(target) {
			continue
		}
		fd, _ := strconv.Atoi(n)
		if err := runtimeCgroupFD(fd, target); err != nil {
			leaked = append(leaked, d+" ("+err.Error()+")")
			continue
		}
		runtimeOwned = append(runtimeOwned, filepath.Base(target))
	}
	if len(leaked) > 0 {
		return false, "open: " + strings.Join(leaked, ", ")
	}
	if len(runtimeOwned) > 0 {
		return true, "only 0, 1 and 2, and the Go runtime's own read-only cgroup CPU-limit files (" + strings.Join(runtimeOwned, ", ") + ", for GOMAXPROCS)"
	}
	return true, "only 0, 1 and 2"
}

func (p *prober) hostTCP() (bool, string) {
	if p.h.TCPAddr == "" {
		return false, "the host passed no listener"
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(p.ctx, "tcp", p.h.TCPAddr)
	if err == nil {
		c.Close()
		return false, "connected to the host's " + p.h.TCPAddr
	}
	return true, "dial " + p.h.TCPAddr + ": " + errName(err)
}

func (p *prober) interfaces() (bool, string) {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return false, "read /proc/net/dev: " + err.Error()
	}
	names, err := ParseNetDev(b)
	if err != nil {
		return false, err.Error()
	}
	others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "lo" })
	if len(others) > 0 {
		return false, "interfaces: " + strings.Join(names, " ")
	}
	return true, "interfaces: " + strings.Join(names, " ")
}

// route connects a UDP socket, which sends nothing, to a documentation
// address: the kernel only looks up a route.
func (p *prober) route() (bool, string) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, "socket: " + errName(err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{192, 0, 2, 1}})
	if err == nil {
		return false, "a route to 192.0.2.1 exists"
	}
	return true, "connect 192.0.2.1:9: " + errName(err)
}

func (p *prober) hostAbstract() (bool, string) {
	if p.h.AbstractSocket == "" {
		return false, "the host passed no abstract socket"
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, "socket: " + errName(err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + p.h.AbstractSocket})
	if err == nil {
		return false, "connected to @" + p.h.AbstractSocket
	}
	return true, "connect @" + p.h.AbstractSocket + ": " + errName(err)
}

// cgroupFile finds a controller's file for this process in a v2 or v1
// hierarchy mounted at /sys/fs/cgroup, at the path /proc/self/cgroup
// gives or at the hierarchy's root (what a cgroup namespace shows).
func cgroupFile(controller, v1name, v2name string) (string, string, bool) {
	var paths []string
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		if es, err := ParseCgroup(b); err == nil {
			for _, e := range es {
				if len(e.Controllers) == 0 && v2name != "" {
					paths = append(paths, filepath.Join("/sys/fs/cgroup", e.Path, v2name))
				}
				if slices.Contains(e.Controllers, controller) && v1name != "" {
					paths = append(paths, filepath.Join("/sys/fs/cgroup", controller, e.Path, v1name))
				}
			}
		}
	}
	if v2name != "" {
		paths = append(paths, filepath.Join("/sys/fs/cgroup", v2name))
	}
	if v1name != "" {
		paths = append(paths, filepath.Join("/sys/fs/cgroup", controller, v1name))
	}
	for _, path := range paths {
		if b, err := os.ReadFile(path); err == nil {
			return path, strings.TrimSpace(string(b)), true
		}
	}
	return "", "", false
}

// memory shows the memory limit in force: a helper allocates and touches
// 64 MiB more than the claimed limit, and must not survive it.
func (p *prober) memory() (bool, string) {
	claim := p.h.Enforced.MemoryLimitMB
	var notes []string
	if path, v, ok := cgroupFile("memory", "memory.limit_in_bytes", "memory.max"); ok {
		notes = append(notes, path+" = "+v)
	}
	var rl unix.Rlimit
	for _, r := range []struct {
		name string
		res  int
	}{{"RLIMIT_DATA", unix.RLIMIT_DATA}, {"RLIMIT_AS", unix.RLIMIT_AS}} {
		if unix.Getrlimit(r.res, &rl) == nil && rl.Cur != unix.RLIM_INFINITY {
			notes = append(notes, fmt.Sprintf("%s %d MiB", r.name, rl.Cur>>20))
		}
	}
	if claim == 0 {
		return false, strings.Join(append([]string{"no memory limit claimed"}, notes...), "; ")
	}
	if len(p.h.Self) == 0 {
		return false, "the host passed no helper command"
	}
	mib := claim + 64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if mi, err := ParseMeminfo(b); err == nil {
			total, avail := mi["MemTotal"], mi["MemAvailable"]
			// A memory total within the limit is the sandbox's own kernel
			// (gVisor's) showing the limit; allocating past it there ends
			// the whole sandbox, probe included.
			if total <= claim<<20 {
				return true, fmt.Sprintf("the sandbox's kernel has %d MiB in all (/proc/meminfo), within the limit", total>>20)
			}
			// Should the limit not hold, the helper takes this much from
			// the host: do not test a limit larger than half of what it
			// has available.
			if mib<<20 > avail/2 {
				return false, fmt.Sprintf("not tested: %d MiB is more than half of the %d MiB the host has available", mib, avail>>20)
			}
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.h.Self[0], append(slices.Clone(p.h.Self[1:]), fmt.Sprintf("%s=%d", AllocFlag, mib))...)
	cmd.Env = []string{}
	out, err := cmd.Output()
	survived := strings.Contains(string(out), "survived")
	notes = append([]string{fmt.Sprintf("helper allocating %d MiB: %s", mib, exitText(err, survived))}, notes...)
	if ctx.Err() != nil {
		return false, "helper timed out; " + strings.Join(notes, ", ")
	}
	return !survived && err != nil, strings.Join(notes, ", ")
}

func exitText(err error, survived bool) string {
	switch {
	case survived:
		return "it survived"
	case err == nil:
		return "it exited 0 without finishing"
	}
	return err.Error()
}

// cpu shows the CPU limit in force: threads kept busy on every CPU may
// not get more CPU than the limit (see cpuWithin for the margin).
//
// How much CPU the threads got is measured by the work they finish per
// wall-clock second ([measureCPU]), which throttling bounds whatever the
// kernel's accounting says. Inside gVisor the CPU clocks (getrusage,
// CLOCK_PROCESS_CPUTIME_ID) are the sentry's own: it counts a thread as
// running for as long as it is in the application, including the time
// the host's CFS quota held it off every CPU, and so it reported up to
// 1.9 CPUs for a container the host throttled to 1. On the host's own
// kernel getrusage is exact, and the larger of the two figures decides.
func (p *prober) cpu() (bool, string) {
	claim := p.h.Enforced.CPULimit
	var notes []string
	if path, v, ok := cgroupFile("cpu", "", "cpu.max"); ok {
		notes = append(notes, path+" = "+v)
	} else if path, q, ok := cgroupFile("cpu", "cpu.cfs_quota_us", ""); ok {
		_, per, _ := cgroupFile("cpu", "cpu.cfs_period_us", "")
		qn, _ := ParseLimit(q)
		pn, _ := ParseLimit(per)
		notes = append(notes, fmt.Sprintf("%s = %s (%g CPUs)", path, q, cpuQuota(qn, pn)))
	}
	if claim <= 0 {
		return false, "no CPU limit claimed"
	}
	n := runtime.NumCPU()
	if claim >= float64(n) {
		return true, fmt.Sprintf("limit %g is not below the %d CPUs this process may use: nothing to restrict", claim, n)
	}
	if !cpuDecidable(n, claim) {
		return false, fmt.Sprintf("not shown: %d busy threads without a limit would show about %d CPUs, within the margin of a limit of %g; the check cannot tell this limit from none", n, n, claim)
	}
	statPath, stat0, statOK := cgroupFile("cpu", "cpu.stat", "cpu.stat")
	s := measureCPU(p.ctx, n)
	if s.speed <= 0 || s.wall <= 0 {
		return false, "not measured: the reference thread or the window did not run"
	}
	work := float64(s.units) / s.speed / s.wall.Seconds()
	accounted := s.rusage.Seconds() / s.wall.Seconds()
	rate := work
	measure := fmt.Sprintf("%d busy threads did the work of %.2f CPUs in %v (one thread does %.0f units/s on a CPU of its own)",
		n, work, s.wall.Round(time.Millisecond), s.speed)
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load, _, _ = strings.Cut(string(b), " ")
	}
	if why := p.foreignKernel(); why != "" {
		// The load average is this kernel's too, not the host's.
		measure += fmt.Sprintf("; getrusage says %.2f CPUs, not used: %s (limit %g, load %s as that kernel counts it)", accounted, why, claim, load)
	} else {
		rate = max(work, accounted)
		measure += fmt.Sprintf("; getrusage says %.2f CPUs (limit %g, host load %s)", accounted, claim, load)
	}
	if statOK {
		if stat1, err := os.ReadFile(statPath); err == nil {
			t0, ok0 := throttled(stat0)
			t1, ok1 := throttled(string(stat1))
			if ok0 && ok1 {
				notes = append(notes, fmt.Sprintf("%s: throttled %d times meanwhile", statPath, t1-t0))
			}
		}
	}
	return cpuWithin(rate, claim), strings.Join(append([]string{measure}, notes...), ", ")
}

// foreignKernel says why this process's CPU clocks are not the host's
// accounting, or returns "" when they are or it cannot tell: the kernel
// answering uname is not the host's (gVisor's sentry, or a virtual
// machine's guest), so its clocks count what it believes its threads
// ran, not what the host's scheduler gave them.
func (p *prober) foreignKernel() string {
	if p.h.Kernel == "" {
		return ""
	}
	if k := HostKernel(); k != "" && k != p.h.Kernel {
		return fmt.Sprintf("the kernel here (%q) is not the host's, and its CPU clocks count time the host's quota held the threads off the CPU", k)
	}
	return ""
}

// The CPU check's timing. The reference burst measures one thread's
// speed; the busy threads then run for cpuWarmup before the window
// opens, so that the sandbox's kernel has created and scheduled all of
// them (gVisor's sentry can take tens of milliseconds to start a thread
// on a loaded host) and the window sees every one of them busy. The
// window spans eight of kavach's 100 ms CFS periods, which bounds the
// error at its edges (see cpuWithin).
const (
	cpuReference = 100 * time.Millisecond
	cpuWarmup    = 100 * time.Millisecond
	cpuWindow    = 800 * time.Millisecond
)

// cpuSample is what measureCPU saw.
type cpuSample struct {
	speed  float64       // units per second of one thread on a CPU of its own
	units  uint64        // units the busy threads finished in the window
	wall   time.Duration // the window's length
	rusage time.Duration // the CPU time getrusage counted in the window
}

// spin is the CPU check's unit of work: about 15 µs of arithmetic on a
// current x86 core, with no memory traffic and no system call, so that
// how many units a thread finishes per wall second depends only on how
// much CPU it was given.
//
//go:noinline
func spin(x uint64) uint64 {
	for i := range uint64(20000) {
		x += i ^ (x >> 3)
	}
	return x
}

// spinSink keeps spin's results alive, so the compiler keeps the work.
var spinSink atomic.Uint64

// counter is one busy thread's unit count, alone on its cache line so
// that the threads do not slow each other down by sharing one.
type counter struct {
	n atomic.Uint64
	_ [56]byte
}

// measureCPU measures how much work n threads, each locked to its own OS
// thread and busy without pause, finish in cpuWindow, and how fast one
// thread works when it holds a CPU.
func measureCPU(ctx context.Context, n int) cpuSample {
	var s cpuSample
	s.speed = unitSpeed(cpuReference)
	counts := make([]counter, n)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			x := uint64(i)
			for !stop.Load() {
				x = spin(x)
				counts[i].n.Add(1)
			}
			spinSink.Add(x)
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	sum := func() (u uint64) {
		for i := range counts {
			u += counts[i].n.Load()
		}
		return u
	}
	if sleep(ctx, cpuWarmup) != nil {
		return cpuSample{}
	}
	t0, u0, r0 := time.Now(), sum(), cpuTime()
	if sleep(ctx, cpuWindow) != nil {
		return cpuSample{}
	}
	t1, u1, r1 := time.Now(), sum(), cpuTime()
	s.units, s.wall, s.rusage = u1-u0, t1.Sub(t0), r1-r0
	return s
}

// unitSpeed returns how many units one thread finishes per second while
// it holds a CPU: the 90th percentile of the rates of bursts of 32 units
// (about 0.5 ms) over d. A burst is shorter than the slice a CFS quota
// or a busy host's scheduler leaves a thread, so most bursts run
// uninterrupted whatever the limit or the load, and the percentile skips
// those a preemption cut; the rare burst faster than the rest (a clock
// read landing late) is left out by not taking the maximum. A burst is
// long enough that the two clock reads around it, which are system calls
// under gVisor, cost about 1% of it. The thread is alone, so under a
// limit of one CPU or more it is never throttled.
func unitSpeed(d time.Duration) float64 {
	rates := make(chan []float64, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var rs []float64
		x := uint64(1)
		for end := time.Now().Add(d); ; {
			t := time.Now()
			if t.After(end) {
				break
			}
			for range 32 {
				x = spin(x)
			}
			rs = append(rs, 32/time.Since(t).Seconds())
		}
		spinSink.Add(x)
		rates <- rs
	}()
	rs := <-rates
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[len(rs)*9/10]
}

// cpuTime is the CPU time getrusage counts for this process.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pids forks helpers that block on a pipe until fork fails, at most
// max_pids+16 of them. The helper is a single-threaded cat where there is
// one, so that every helper is one task.
func (p *prober) pids() (bool, string) {
	claim := int(p.h.Enforced.MaxPids)
	if claim == 0 {
		return false, "no pids limit claimed; not attempted"
	}
	argv := p.h.Self
	if len(argv) > 0 {
		argv = append(slices.Clone(argv), HoldFlag)
	}
	for _, c := range []string{"/usr/bin/cat", "/bin/cat"} {
		if unix.Access(c, unix.X_OK) == nil {
			argv = []string{c}
			break
		}
	}
	if len(argv) == 0 {
		return false, "no helper command"
	}
	// Keep idle threads ready, so the runtime need not create one while
	// the pids limit is exhausted (which it cannot survive).
	spareThreads(8)
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return false, "open /dev/null: " + err.Error()
	}
	defer null.Close()
	var kids []int
	var writers []*os.File
	defer func() {
		for _, w := range writers {
			w.Close()
		}
		for _, pid := range kids {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
	}()
	limit := claim + 16
	for i := 0; i < limit; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return false, fmt.Sprintf("pipe after %d helpers: %v", i, err)
		}
		pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
			Env:   []string{},
			Files: []uintptr{r.Fd(), null.Fd(), null.Fd()},
		})
		r.Close()
		if err != nil {
			w.Close()
			if errnoOf(err) == unix.EAGAIN {
				return true, fmt.Sprintf("fork failed with EAGAIN after %d helpers (max_pids %d)%s", i, claim, pidsLimitNote(claim))
			}
			return false, fmt.Sprintf("fork failed after %d helpers: %s", i, errName(err))
		}
		kids = append(kids, pid)
		writers = append(writers, w)
	}
	return false, fmt.Sprintf("started %d helpers without hitting a limit (max_pids %d)", limit, claim)
}

// pidsLimitNote says where the pids limit is visible, for the detail.
func pidsLimitNote(claim int) string {
	if path, v, ok := cgroupFile("pids", "pids.max", "pids.max"); ok {
		return "; " + path + " = " + v
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) == nil && rl.Cur <= uint64(claim) {
		return fmt.Sprintf("; RLIMIT_NPROC %d", rl.Cur)
	}
	return "; pids.max is not visible in the sandbox"
}

// spareThreads makes the runtime create n threads and leave them idle.
func spareThreads(n int) {
	ready := make(chan struct{})
	release := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			<-release
			runtime.UnlockOSThread()
		}()
	}
	for range n {
		<-ready
	}
	close(release)
}

// Hold is the pids check's helper when no cat exists: it blocks until its
// stdin is closed.
func Hold() error {
	_, err := bufio.NewReader(os.Stdin).WriteTo(discard{})
	return err
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// Alloc is the memory check's helper: it allocates mib MiB, touching
// every page, and prints "survived" if it could. It asks to be the OOM
// killer's first choice so that the probe itself is spared.
func Alloc(mib int) error {
	if mib <= 0 {
		return fmt.Errorf("alloc %d MiB: %w", mib, ErrHostInfo)
	}
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	keep := make([][]byte, 0, mib)
	for range mib {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	runtime.KeepAlive(keep)
	_, err := fmt.Printf("survived %d MiB\n", mib)
	return err
}
