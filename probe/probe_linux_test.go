package probe

import (
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/seccomp"
)

func TestEveryCheckImplemented(t *testing.T) {
	for _, c := range Checks() {
		if impls[c.ID] == nil {
			t.Errorf("check %s has no implementation", c.ID)
		}
	}
	for id := range impls {
		if _, ok := lookup(id); !ok {
			t.Errorf("implementation %s is not in the battery", id)
		}
	}
}

// TestRunRefusesOnHost is the safety net: on the host, with the host's
// own namespaces as the "host info", Run must refuse before any check.
func TestRunRefusesOnHost(t *testing.T) {
	ns, err := HostNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]HostInfo{
		"host namespaces": {Namespaces: ns, PID: os.Getpid()},
		"no host info":    {},
		"only user ns":    {Namespaces: map[string]uint64{"user": ns["user"]}},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Run(context.Background(), h)
			if !errors.Is(err, ErrNotSandboxed) {
				t.Fatalf("Run on the host: err = %v, want ErrNotSandboxed", err)
			}
			if len(out.Checks) != 0 {
				t.Fatalf("Run on the host ran %d checks", len(out.Checks))
			}
		})
	}
}

// TestRunRefusesForgedHostInfo gives Run namespaces that are not this
// host's: in the initial pid namespace, the guard's own checks still
// refuse.
func TestRunRefusesForgedHostInfo(t *testing.T) {
	if ino, err := nsInode("pid"); err != nil || ino != initPIDNSInode {
		t.Skipf("the test does not run in the initial pid namespace (pid:[%d], %v)", ino, err)
	}
	h := HostInfo{Namespaces: map[string]uint64{"pid": 1, "user": 1}}
	if _, err := Run(context.Background(), h); !errors.Is(err, ErrNotSandboxed) {
		t.Fatalf("Run with forged host info: err = %v, want ErrNotSandboxed", err)
	}
}

func TestKernelThreadsVisibleOnHost(t *testing.T) {
	if ino, err := nsInode("pid"); err != nil || ino != initPIDNSInode {
		t.Skipf("the test does not run in the initial pid namespace (pid:[%d], %v)", ino, err)
	}
	if !kernelThreadsVisible() {
		t.Fatal("kernel threads not visible from the test process, which runs in the initial pid namespace")
	}
}

func TestHostNamespaces(t *testing.T) {
	ns, err := HostNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nsNames {
		if ns[n.proc] == 0 {
			t.Errorf("no inode for %s", n.proc)
		}
	}
}

// TestOpenFDs checks the leaked-fd snapshot on the test process itself:
// a descriptor opened on purpose must be listed.
func TestOpenFDs(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds, err := openFDs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(fds, func(d string) bool { return d == itoa(int(f.Fd()))+" -> /proc/"+itoa(os.Getpid())+"/status" }) {
		t.Fatalf("fd %d not listed in %v", f.Fd(), fds)
	}
}

func itoa(n int) string {
	return string(appendInt(nil, n))
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// bpfRun interprets a classic BPF seccomp program over one syscall, for
// the few opcodes internal/seccomp emits.
func bpfRun(t *testing.T, prog []seccomp.Instruction, nr uint32, arch uint32, args [6]uint64) uint32 {
	t.Helper()
	var data [64]byte
	le := func(off int, v uint32) {
		data[off], data[off+1], data[off+2], data[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	le(0, nr)
	le(4, arch)
	for i, a := range args {
		le(16+8*i, uint32(a))
		le(20+8*i, uint32(a>>32))
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case 0x20: // ld abs w
			k := int(in.K)
			acc = uint32(data[k]) | uint32(data[k+1])<<8 | uint32(data[k+2])<<16 | uint32(data[k+3])<<24
		case 0x54: // and k
			acc &= in.K
		case 0x05: // ja
			pc += int(in.K)
		case 0x15: // jeq k
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case 0x35: // jge k
			if acc >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case 0x45: // jset k
			if acc&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case 0x06: // ret k
			return in.K
		default:
			t.Fatalf("opcode %#x at %d not interpreted", in.Code, pc)
		}
	}
	t.Fatal("program fell off its end")
	return 0
}

// sweepCall names the syscall and the deciding arguments each sweep
// check makes.
var sweepCall = map[string]struct {
	nr   uintptr
	args [6]uint64
}{
	"sys.mount":             {unix.SYS_MOUNT, [6]uint64{}},
	"sys.umount2":           {unix.SYS_UMOUNT2, [6]uint64{}},
	"sys.pivot_root":        {unix.SYS_PIVOT_ROOT, [6]uint64{}},
	"sys.swapon":            {unix.SYS_SWAPON, [6]uint64{}},
	"sys.swapoff":           {unix.SYS_SWAPOFF, [6]uint64{}},
	"sys.reboot":            {unix.SYS_REBOOT, [6]uint64{}},
	"sys.kexec_load":        {unix.SYS_KEXEC_LOAD, [6]uint64{}},
	"sys.init_module":       {unix.SYS_INIT_MODULE, [6]uint64{}},
	"sys.finit_module":      {unix.SYS_FINIT_MODULE, [6]uint64{}},
	"sys.delete_module":     {unix.SYS_DELETE_MODULE, [6]uint64{}},
	"sys.acct":              {unix.SYS_ACCT, [6]uint64{}},
	"sys.settimeofday":      {unix.SYS_SETTIMEOFDAY, [6]uint64{}},
	"sys.sethostname":       {unix.SYS_SETHOSTNAME, [6]uint64{}},
	"sys.setdomainname":     {unix.SYS_SETDOMAINNAME, [6]uint64{}},
	"sys.setns":             {unix.SYS_SETNS, [6]uint64{}},
	"sys.ptrace":            {unix.SYS_PTRACE, [6]uint64{unix.PTRACE_PEEKDATA}},
	"sys.bpf":               {unix.SYS_BPF, [6]uint64{}},
	"sys.keyctl":            {unix.SYS_KEYCTL, [6]uint64{}},
	"sys.add_key":           {unix.SYS_ADD_KEY, [6]uint64{}},
	"sys.perf_event_open":   {unix.SYS_PERF_EVENT_OPEN, [6]uint64{}},
	"sys.io_uring_setup":    {unix.SYS_IO_URING_SETUP, [6]uint64{}},
	"sys.userfaultfd":       {unix.SYS_USERFAULTFD, [6]uint64{}},
	"sys.open_by_handle_at": {unix.SYS_OPEN_BY_HANDLE_AT, [6]uint64{}},
	"sys.syslog":            {unix.SYS_SYSLOG, [6]uint64{unix.SYSLOG_ACTION_READ_ALL}},
	"sys.clone_newuser":     {unix.SYS_CLONE, [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}},
	"sys.unshare_newuser":   {unix.SYS_UNSHARE, [6]uint64{unix.CLONE_NEWUSER}},
	"sys.socket_packet":     {unix.SYS_SOCKET, [6]uint64{unix.AF_PACKET, unix.SOCK_RAW | unix.SOCK_CLOEXEC}},
	"sys.mknod_char":        {unix.SYS_MKNODAT, [6]uint64{}},
	"sys.chroot":            {unix.SYS_CHROOT, [6]uint64{}},
}

// TestSweepMatchesSeccompProfiles checks the sweep's expectations against
// the filters the process backend really installs: a call classed as
// denied by both profiles must be refused by both, one classed as
// strict-only must be refused by strict and allowed by basic, and one
// classed as capability-gated only must be allowed by both.
func TestSweepMatchesSeccompProfiles(t *testing.T) {
	audit := map[string]uint32{"amd64": 0xc000003e, "arm64": 0xc00000b7}[runtime.GOARCH]
	if audit == 0 {
		t.Skipf("no seccomp syscall table for %s", runtime.GOARCH)
	}
	progs := map[string][]seccomp.Instruction{}
	for _, name := range []string{"basic", "strict"} {
		f, err := seccomp.Build(name)
		if err != nil {
			t.Fatal(err)
		}
		progs[name] = f.Program()
	}
	const allow = 0x7fff0000
	for _, s := range syscalls {
		t.Run(s.id, func(t *testing.T) {
			call, ok := sweepCall[s.id]
			if !ok {
				t.Fatalf("no syscall recorded for %s", s.id)
			}
			basic := bpfRun(t, progs["basic"], uint32(call.nr), audit, call.args)
			strict := bpfRun(t, progs["strict"], uint32(call.nr), audit, call.args)
			switch {
			case s.class&seccompBoth != 0:
				if basic == allow || strict == allow {
					t.Fatalf("classed as denied by both, but basic=%#x strict=%#x", basic, strict)
				}
			case s.class&seccompStrict != 0:
				if basic != allow || strict == allow {
					t.Fatalf("classed as strict-only, but basic=%#x strict=%#x", basic, strict)
				}
			default:
				if basic != allow || strict != allow {
					t.Fatalf("classed as capability-gated only, but basic=%#x strict=%#x", basic, strict)
				}
			}
		})
	}
}

// TestBurn checks the CPU check's measurement: two busy threads for
// 300 ms use CPU time and take at least that long. (How many CPUs they
// get on a shared host depends on its load, so only the decision is
// tested exactly, in TestCPUWithin.)
func TestBurn(t *testing.T) {
	used, wall := burn(2, 300*time.Millisecond)
	if wall < 300*time.Millisecond || used <= 0 || used > 2*wall+50*time.Millisecond {
		t.Fatalf("burn used %v of CPU in %v", used, wall)
	}
}

// TestChecksFailOnHost runs checks that must fail on the host as root,
// which shows they can tell a sandbox from no sandbox.
func TestChecksFailOnHost(t *testing.T) {
	kavachtest.RequireRoot(t)
	ns, err := HostNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	p := &prober{ctx: context.Background(), h: HostInfo{Namespaces: ns, PID: os.Getpid()}}
	ids := []string{"ns.pid", "ns.mnt", "host.pid", "net.interfaces", "net.route", "rw.workdir"}
	if b, err := os.ReadFile("/proc/sys/kernel/kptr_restrict"); err == nil && string(b) != "2\n" {
		ids = append(ids, "proc.kallsyms")
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			pass, detail := p.run(impls[id])
			if id == "rw.workdir" {
				pass = !pass // the host's cwd is writable: the check passes
			}
			if pass {
				t.Fatalf("%s passes on the host: %s", id, detail)
			}
		})
	}
}
