package bundle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/internal/seccomp"
)

func init() {
	reexec.Register(roleInit, runInit)
	reexec.Register(roleExec, runExec)
}

// runInit is the container's pid 1 (see the protocol in doc.go).
func runInit() {
	a, err := parseInitArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kavach init: %v\n", err)
		os.Exit(125)
	}
	statusFD, ok := strings.CutPrefix(a.status, "fd:")
	fd, err := strconv.Atoi(statusFD)
	if !ok || err != nil || fd < 3 {
		fmt.Fprintf(os.Stderr, "kavach init: bad status argument %q\n", a.status)
		os.Exit(125)
	}
	// The command must never hold the status descriptor, nor reach it
	// through /proc/1/fd: close-on-exec, and not dumpable (only
	// CAP_SYS_PTRACE, which the command lacks, opens a non-dumpable
	// process's descriptors).
	syscall.CloseOnExec(fd)
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0)
	sigs := make(chan os.Signal, 16)
	// Every signal is caught so that it can be forwarded; pid 1 would
	// otherwise ignore it.
	signal.Notify(sigs)

	// With a gate, the host runs its per-command preparation (the egress
	// proxy's listener in this network namespace) before the command may
	// start, and then closes the gate's write end.
	if fi, err := os.Stat(GateFile); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		g, err := os.Open(GateFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kavach init: open gate: %v\n", err)
			os.Exit(125)
		}
		_, _ = io.Copy(io.Discard, g)
		_ = g.Close()
	}

	cmd := reexec.Command(roleExec, append([]string{a.profile, a.inner, "--"}, a.argv...)...)
	cmd.Env = append(cmd.Env, a.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "kavach init: start: %v\n", err)
		os.Exit(125)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGCHLD || s == syscall.SIGURG || s == syscall.SIGPIPE {
					continue
				}
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	_ = cmd.Wait()
	close(done)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	st := Status{Code: ws.ExitStatus()}
	if ws.Signaled() {
		st = Status{Signal: int(ws.Signal())}
	}
	st.OOM = oomKills() > 0
	if _, err := syscall.Write(fd, []byte(st.String()+"\n")); err != nil {
		fmt.Fprintf(os.Stderr, "kavach init: write status: %v\n", err)
		os.Exit(125)
	}
	if st.Signal != 0 {
		os.Exit(128 + st.Signal)
	}
	os.Exit(st.Code)
}

// runExec applies the seccomp profile (and the inner stage, if any) and
// execs the command.
func runExec() {
	// Landlock restricts only the calling thread, so the thread that
	// applies it must be the one that calls execve.
	runtime.LockOSThread()
	args := os.Args[1:]
	if len(args) < 4 || args[2] != "--" {
		fmt.Fprintln(os.Stderr, "kavach exec: bad arguments")
		os.Exit(125)
	}
	profile, argv := args[0], args[3:]
	inner, err := decodeInner(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kavach exec: %v\n", err)
		os.Exit(125)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, reexec.EnvRole+"=") })
	// The command's PATH is looked up before the filter is installed, so
	// the lookup's own system calls need not be in the strict profile.
	var path string
	if inner == nil || !inner.DryRun {
		path, err = exec.LookPath(argv[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "kavach: %s: %v\n", argv[0], err)
			if errors.Is(err, os.ErrPermission) {
				os.Exit(126)
			}
			os.Exit(127)
		}
	}
	if profile != "" || inner != nil {
		// no_new_privs is already set by the runtime (the spec asks for
		// it) and inherited over exec; set it again so neither the filter
		// nor Landlock ever depends on that.
		if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0); e != 0 && e != syscall.ENOTSUP {
			fmt.Fprintf(os.Stderr, "kavach exec: prctl(PR_SET_NO_NEW_PRIVS): %v\n", e)
			os.Exit(125)
		}
	}
	// Landlock comes before any seccomp filter, whose strict profile
	// does not allow the landlock system calls.
	if inner != nil {
		if err := inner.applyLandlock(); err != nil {
			fmt.Fprintf(os.Stderr, "kavach exec: inner stage: %v\n", err)
			os.Exit(125)
		}
	}
	for i, prof := range []string{profile, inner.seccomp()} {
		if prof == "" {
			continue
		}
		f, err := seccomp.Build(prof)
		if err == nil {
			err = f.Apply()
		}
		if err != nil {
			layer := "kavach exec"
			if i == 1 {
				layer = "kavach exec: inner stage"
			}
			fmt.Fprintf(os.Stderr, "%s: %v\n", layer, err)
			os.Exit(125)
		}
	}
	if inner != nil && inner.DryRun {
		os.Exit(0)
	}
	err = syscall.Exec(path, argv, env)
	fmt.Fprintf(os.Stderr, "kavach: exec %s: %v\n", argv[0], err)
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOEXEC) {
		os.Exit(126)
	}
	os.Exit(127)
}

// oomKills returns the OOM kills counted in the container's memory
// cgroup, as seen through the read-only cgroup mount (cgroup v2
// memory.events, or v1 memory.oom_control's oom_kill line), or 0 when
// it cannot tell.
func oomKills() int {
	for _, f := range []string{"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if n, ok := strings.CutPrefix(line, "oom_kill "); ok {
				v, _ := strconv.Atoi(strings.TrimSpace(n))
				return v
			}
		}
	}
	return 0
}
