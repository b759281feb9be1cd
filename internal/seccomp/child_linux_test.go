//go:build linux

package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/seccomp/internal/int80"
)

// Environment of a child: the profile to apply ("none" applies nothing,
// for the control runs), and for the exec mode the program's argv
// (JSON) and the child mode the exec'd program gets, if any.
const (
	envProfile = "KAVACH_SECCOMP_PROFILE"
	envArgv    = "KAVACH_SECCOMP_ARGV"
	envNext    = "KAVACH_SECCOMP_NEXT"
)

// cleanEnv is the environment programs run with, as in a sandbox.
var cleanEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/tmp", "LANG=C.UTF-8"}

// childMain runs one child mode and returns the exit code.
func childMain(mode string) int {
	runtime.LockOSThread()
	switch mode {
	case "hello":
		return hello()
	case "nonnp":
		return applyWithoutNNP()
	}
	if err := restrict(os.Getenv(envProfile)); err != nil {
		fmt.Fprintln(os.Stderr, "restrict:", err)
		return 125
	}
	switch mode {
	case "exec":
		var argv []string
		if err := json.Unmarshal([]byte(os.Getenv(envArgv)), &argv); err != nil || len(argv) == 0 {
			fmt.Fprintf(os.Stderr, "bad %s: %v\n", envArgv, err)
			return 2
		}
		env := cleanEnv
		if next := os.Getenv(envNext); next != "" {
			env = append(env[:len(env):len(env)], envChild+"="+next)
		}
		err := syscall.Exec(argv[0], argv, env)
		fmt.Fprintf(os.Stderr, "exec %s: %v\n", argv[0], err)
		return 126
	case "probe":
		for _, p := range probes {
			if _, ok := archs[runtime.GOARCH].table()[p.sys]; !ok && p.sys != "" {
				continue
			}
			fmt.Printf("%s %d\n", p.name, int(p.call()))
		}
		return 0
	case "allocs":
		// Filters stack, so Apply can run again; it must not allocate.
		f, err := Build("basic")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var applyErr error
		n := testing.AllocsPerRun(5, func() {
			if err := f.Apply(); err != nil {
				applyErr = err
			}
		})
		fmt.Printf("allocs=%v err=%v\n", n, applyErr)
		return 0
	case "x32":
		// getpid with the x32 bit: the filter must kill before the kernel
		// looks at it (this kernel has no x32 ABI and would say ENOSYS).
		_, _, errno := unix.RawSyscall(unix.SYS_GETPID|x32SyscallBit, 0, 0, 0)
		fmt.Printf("survived errno=%d\n", errno)
		return 0
	case "int80":
		fmt.Printf("survived pid=%d\n", int32(int80.Getpid()))
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
	return 2
}

// restrict sets no_new_privs and applies profile, unless it is "none". It
// first starts a few threads that outlive the call, so the probes can check
// that TSYNC reached threads that existed before Apply.
func restrict(profile string) error {
	ready := make(chan struct{})
	for range 4 {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			select {}
		}()
		<-ready
	}
	if profile == "none" {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	f, err := Build(profile)
	if err != nil {
		return err
	}
	return f.Apply()
}

func applyWithoutNNP() int {
	if nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); nnp == 1 {
		fmt.Println("inherited")
		return 0
	}
	f, err := Build("basic")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = f.Apply()
	status, _ := os.ReadFile("/proc/self/status")
	fmt.Printf("is-ErrNoNewPrivs=%v unfiltered=%v %v\n", errors.Is(err, ErrNoNewPrivs),
		strings.Contains(string(status), "\nSeccomp:\t0\n"), err)
	return 0
}

// hello is what the test binary does when a filtered child execs it: the
// runtime's own syscalls, fork and exec, files, netlink, timers.
func hello() int {
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := 0
			for j := range 1_000_000 {
				s += j
			}
			_ = s
		}()
	}
	wg.Wait()
	if err := exec.Command("true").Run(); err != nil {
		fmt.Fprintln(os.Stderr, "exec true:", err)
		return 1
	}
	p := filepath.Join(os.TempDir(), fmt.Sprintf("kavach-seccomp-%d", os.Getpid()))
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Remove(p)
	if _, err := net.Interfaces(); err != nil {
		fmt.Fprintln(os.Stderr, "interfaces:", err)
		return 1
	}
	time.Sleep(5 * time.Millisecond)
	fmt.Println("hello from go")
	return 0
}

// expect is what a probe must return under a profile.
type expect int

const (
	same   expect = iota // what the unfiltered control run returned
	eperm                // EPERM, and the control run did not
	enosys               // ENOSYS, and the control run did not
)

// probe is one syscall the child makes after the filter is applied.
type probe struct {
	name string
	// sys names the syscall, so probes the architecture lacks are skipped;
	// "" for probes that do not depend on one number.
	sys string
	// privileged probes return EPERM without root even unfiltered, so the
	// control run proves nothing for them as an unprivileged user.
	privileged    bool
	basic, strict expect
	call          func() syscall.Errno
}

const nowhere = "/nonexistent-kavach-seccomp"

// sys makes the raw syscall name with args and returns its errno.
func sys(name string, args ...uintptr) syscall.Errno {
	var a [6]uintptr
	copy(a[:], args)
	_, _, e := unix.Syscall6(uintptr(archs[runtime.GOARCH].table()[name]), a[0], a[1], a[2], a[3], a[4], a[5])
	return e
}

// sysFD is sys for a syscall that returns a descriptor, which it closes.
func sysFD(name string, args ...uintptr) syscall.Errno {
	var a [6]uintptr
	copy(a[:], args)
	fd, _, e := unix.Syscall6(uintptr(archs[runtime.GOARCH].table()[name]), a[0], a[1], a[2], a[3], a[4], a[5])
	if e == 0 {
		unix.Close(int(fd))
	}
	return e
}

func str(s string) uintptr {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(p))
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.Errno(0xffff)
}

func ioctlDevNull(req uintptr) syscall.Errno {
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	var buf [64]byte
	return sys("ioctl", uintptr(fd), req, uintptr(unsafe.Pointer(&buf[0])))
}

// threadsFiltered returns 0 when every thread of the process is in seccomp
// filter mode with no_new_privs, EPERM otherwise (so it reads as a
// "denied" result under the profiles and as "allowed" in the control).
func threadsFiltered() syscall.Errno {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return errnoOf(err)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "status"))
		if err != nil {
			continue // The thread has exited.
		}
		s := string(b)
		if !strings.Contains(s, "\nSeccomp:\t2\n") || !strings.Contains(s, "\nNoNewPrivs:\t1\n") {
			return unix.EPERM
		}
	}
	return 0
}

var probes = []probe{
	{name: "getpid", sys: "getpid", call: func() syscall.Errno { return sys("getpid") }},
	{name: "all-threads-filtered", basic: eperm, strict: eperm, call: func() syscall.Errno {
		// Inverted: 0 (allowed) means every thread is filtered, which must
		// be the case under both profiles and not in the control.
		if threadsFiltered() == 0 {
			return unix.EPERM
		}
		return 0
	}},
	{name: "fork-exec", call: func() syscall.Errno { return errnoOf(exec.Command("/bin/true").Run()) }},
	{name: "clone-newuser", privileged: true, basic: eperm, strict: eperm, call: func() syscall.Errno {
		c := exec.Command("/bin/true")
		c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
		return errnoOf(c.Run())
	}},
	{name: "unshare-newuser", sys: "unshare", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("unshare", unix.CLONE_NEWUSER) }},
	{name: "unshare-newnet", sys: "unshare", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("unshare", unix.CLONE_NEWNET) }},
	{name: "clone3", sys: "clone3", basic: enosys, strict: enosys,
		call: func() syscall.Errno { return sys("clone3", 0, 0) }},
	{name: "mount", sys: "mount", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("mount", str("none"), str(nowhere), str("tmpfs"), 0, 0) }},
	{name: "umount2", sys: "umount2", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("umount2", str(nowhere), 0) }},
	{name: "ptrace", sys: "ptrace", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sys("ptrace", unix.PTRACE_PEEKUSR, uintptr(os.Getppid()), 0, 0) }},
	{name: "bpf", sys: "bpf", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("bpf", 0xffff, 0, 0) }},
	{name: "keyctl", sys: "keyctl", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sys("keyctl", 9999, 0, 0) }},
	{name: "add_key", sys: "add_key", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sys("add_key", 0, 0, 0, 0, 0) }},
	{name: "io_uring_setup", sys: "io_uring_setup", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("io_uring_setup", 1, 0) }},
	{name: "perf_event_open", sys: "perf_event_open", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("perf_event_open", 0, 0, ^uintptr(0), ^uintptr(0), 0) }},
	{name: "userfaultfd", sys: "userfaultfd", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sysFD("userfaultfd", 0x10000) }},
	{name: "setns", sys: "setns", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sys("setns", ^uintptr(0), 0) }},
	{name: "open_by_handle_at", sys: "open_by_handle_at", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sysFD("open_by_handle_at", ^uintptr(0), 0, 0) }},
	{name: "process_vm_readv", sys: "process_vm_readv", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sys("process_vm_readv", uintptr(os.Getpid()), 0, 0, 0, 0, 0) }},
	{name: "fsopen", sys: "fsopen", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sysFD("fsopen", str("kavach-nofs"), 0) }},
	{name: "reboot-bad-magic", sys: "reboot", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("reboot", 0, 0, 0, 0) }},
	{name: "syslog-size", sys: "syslog", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sys("syslog", 10, 0, 0) }},
	{name: "iopl-0", sys: "iopl", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sys("iopl", 0) }},
	{name: "socket-packet", sys: "socket", basic: eperm, strict: eperm, privileged: true,
		call: func() syscall.Errno { return sysFD("socket", afPacket, sockRaw, 0) }},
	{name: "socket-mptcp", sys: "socket", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sysFD("socket", afInet, unix.SOCK_STREAM, ipprotoMPTCP) }},
	{name: "socket-mptcp6", sys: "socket", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sysFD("socket", afInet6, unix.SOCK_STREAM, ipprotoMPTCP) }},
	{name: "socket-netlink-netfilter", sys: "socket", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sysFD("socket", afNetlink, sockRaw, unix.NETLINK_NETFILTER) }},
	{name: "socket-vsock", sys: "socket", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return sysFD("socket", afVsock, unix.SOCK_STREAM, 0) }},
	{name: "socket-alg", sys: "socket", basic: same, strict: eperm,
		call: func() syscall.Errno { return sysFD("socket", unix.AF_ALG, unix.SOCK_SEQPACKET, 0) }},
	{name: "socket-netlink-route", sys: "socket",
		call: func() syscall.Errno { return sysFD("socket", afNetlink, sockRaw|unix.SOCK_CLOEXEC, netlinkRoute) }},
	{name: "socket-tcp", sys: "socket",
		call: func() syscall.Errno { return sysFD("socket", afInet, unix.SOCK_STREAM, 0) }},
	{name: "socket-unix", sys: "socket",
		call: func() syscall.Errno { return sysFD("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0) }},
	{name: "personality-linux32", sys: "personality", basic: eperm, strict: eperm, call: func() syscall.Errno {
		e := sys("personality", 8)
		sys("personality", perLinux) // Undo it in the control run.
		return e
	}},
	{name: "personality-query", sys: "personality",
		call: func() syscall.Errno { return sys("personality", personalityQuery) }},
	{name: "ioctl-tiocsti", sys: "ioctl", basic: eperm, strict: eperm,
		call: func() syscall.Errno { return ioctlDevNull(tiocsti) }},
	{name: "ioctl-tcgets", sys: "ioctl", call: func() syscall.Errno { return ioctlDevNull(unix.TCGETS) }},
	{name: "chroot", sys: "chroot", basic: same, strict: enosys,
		call: func() syscall.Errno { return sys("chroot", str(nowhere)) }},
	{name: "statmount", sys: "statmount", basic: same, strict: enosys,
		call: func() syscall.Errno { return sys("statmount", 0, 0, 0, 0) }},
}
