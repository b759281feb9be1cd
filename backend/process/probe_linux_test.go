package process_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// envProbe makes the test binary run the escape probe instead of its
// tests. The probe runs inside a sandbox, where the binary is mounted.
const envProbe = "KAVACH_ESCAPE_PROBE"

// runProbe tries, from inside a sandbox, everything the sandbox must
// prevent, and prints one "name=result" line per attempt: "denied" (with
// the error) or "ALLOWED". Several attempts would change the host if they
// succeeded outside a sandbox (as root, a "denied" mount that succeeds
// really mounts), so the probe refuses to run unless its parent is pid 1
// of its pid namespace and that pid 1 is kavach's sandbox init, in a uts
// namespace named kavach.
func runProbe() {
	host, _ := os.Hostname()
	init1, _ := os.ReadFile("/proc/1/cmdline")
	if os.Getppid() != 1 || host != "kavach" || !bytes.HasPrefix(init1, []byte("kavach-reexec:process-init\x00")) {
		fmt.Printf("refused: ppid %d, hostname %q, pid 1 %q: not a kavach sandbox\n", os.Getppid(), host, init1)
		unix.Exit(3)
	}
	res := func(name string, err error) {
		if err != nil {
			fmt.Printf("%s=denied (%v)\n", name, err)
		} else {
			fmt.Printf("%s=ALLOWED\n", name)
		}
	}
	// works prints the lines of what must succeed.
	works := func(name string, err error) {
		if err != nil {
			fmt.Printf("%s=FAILED (%v)\n", name, err)
		} else {
			fmt.Printf("%s=works\n", name)
		}
	}
	errno := func(_ uintptr, _ uintptr, e unix.Errno) error {
		if e != 0 {
			return e
		}
		return nil
	}
	// Privileged operations.
	res("mount", unix.Mount("none", "/tmp", "tmpfs", 0, ""))
	res("umount", unix.Unmount("/proc", unix.MNT_DETACH))
	res("unshare-user", unix.Unshare(unix.CLONE_NEWUSER))
	res("unshare-net", unix.Unshare(unix.CLONE_NEWNET))
	res("ptrace-init", unix.PtraceAttach(1))
	res("chroot", unix.Chroot("/tmp"))
	res("setuid-0", errno(unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0)))
	var bpfAttr [128]byte
	*(*uint32)(unsafe.Pointer(&bpfAttr[0])) = 2 // BPF_MAP_TYPE_ARRAY
	*(*uint32)(unsafe.Pointer(&bpfAttr[4])) = 4
	*(*uint32)(unsafe.Pointer(&bpfAttr[8])) = 4
	*(*uint32)(unsafe.Pointer(&bpfAttr[12])) = 1
	res("bpf", errno(unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&bpfAttr)), unsafe.Sizeof(bpfAttr))))
	res("keyctl", errno(unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(int64(unix.KEY_SPEC_SESSION_KEYRING)&0xffffffff), 1)))
	res("add_key", errno(unix.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(&[]byte("user\x00")[0])), uintptr(unsafe.Pointer(&[]byte("k\x00")[0])), 0, 0, uintptr(int64(unix.KEY_SPEC_PROCESS_KEYRING)&0xffffffff), 0)))
	var uringParams [120]byte
	res("io_uring", errno(unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&uringParams)), 0)))
	var perfAttr [128]byte
	*(*uint32)(unsafe.Pointer(&perfAttr[0])) = 1                     // PERF_TYPE_SOFTWARE
	*(*uint32)(unsafe.Pointer(&perfAttr[4])) = uint32(len(perfAttr)) // size
	res("perf_event_open", errno(unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&perfAttr)), 0, ^uintptr(0), ^uintptr(0), 0, 0)))
	res("sethostname", unix.Sethostname([]byte("escaped")))
	// The kernel drops SIGKILL sent to a namespace's init from inside it;
	// kill returns 0, so what counts is whether the init survived.
	_ = unix.Kill(1, unix.SIGKILL)
	time.Sleep(20 * time.Millisecond)
	if _, err := os.Stat("/proc/1/cmdline"); err == nil {
		res("kill-init", fmt.Errorf("init survived SIGKILL"))
	} else {
		res("kill-init", nil)
	}

	// Files.
	_, err := os.ReadFile("/etc/shadow")
	res("read-shadow", err)
	_, err = os.ReadFile("/proc/1/environ")
	res("read-init-environ", err)
	for _, p := range []string{"/usr/kavach-escape", "/etc/kavach-escape", "/kavach-escape", "/proc/sys/kernel/hostname"} {
		res("write-"+p, os.WriteFile(p, []byte("x"), 0o644))
	}
	_, err = os.Stat("/sys/kernel")
	res("see-sys", err)
	works("write-tmp", os.WriteFile("/tmp/probe", []byte("x"), 0o644))
	works("write-work", os.WriteFile("/work/probe", []byte("x"), 0o644))

	// Network and IPC with the host.
	if port := os.Getenv("PROBE_TCP"); port != "" {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 500*time.Millisecond)
		if c != nil {
			c.Close()
		}
		res("connect-host-tcp", err)
	}
	if port := os.Getenv("PROBE_TCP_ALLOWED"); port != "" {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 500*time.Millisecond)
		if c != nil {
			c.Close()
		}
		works("connect-allowed-tcp", err)
	}
	if name := os.Getenv("PROBE_ABSTRACT"); name != "" {
		c, err := net.DialTimeout("unix", "@"+name, 500*time.Millisecond)
		if c != nil {
			c.Close()
		}
		res("connect-host-abstract", err)
	}

	// What the process is.
	status, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh", "NoNewPrivs", "Seccomp", "Uid":
			fmt.Printf("status-%s=%s\n", k, v)
		}
	}
	ents, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, e.Name())
		}
	}
	fmt.Printf("pids=%s\n", strings.Join(pids, ","))
	fmt.Printf("self=%d\n", os.Getpid())
	env := os.Environ()
	slices.Sort(env)
	fmt.Printf("env=%s\n", strings.Join(env, ","))
	fmt.Println("probe=done")
	unix.Exit(0)
}
