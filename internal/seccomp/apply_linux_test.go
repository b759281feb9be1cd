//go:build linux

package seccomp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/seccomp/internal/int80"
)

// TestNativeTable checks the generated table against x/sys/unix for the
// architecture being built.
func TestNativeTable(t *testing.T) {
	a, ok := archs[runtime.GOARCH]
	if !ok {
		kavachtest.Skip(t, "no syscall table for %s", runtime.GOARCH)
	}
	for name, want := range map[string]uintptr{
		"read": unix.SYS_READ, "openat": unix.SYS_OPENAT, "clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3,
		"ptrace": unix.SYS_PTRACE, "socket": unix.SYS_SOCKET, "io_uring_setup": unix.SYS_IO_URING_SETUP,
		"personality": unix.SYS_PERSONALITY, "ioctl": unix.SYS_IOCTL, "mount_setattr": unix.SYS_MOUNT_SETATTR,
		"newfstatat": unix.SYS_NEWFSTATAT, "landlock_restrict_self": unix.SYS_LANDLOCK_RESTRICT_SELF,
	} {
		if got := a.table()[name]; uintptr(got) != want {
			t.Errorf("%s = %d, x/sys/unix says %d", name, got, want)
		}
	}
}

type childResult struct {
	stdout, stderr string
	status         syscall.WaitStatus
}

// runChild re-executes the test binary in a child mode under profile.
func runChild(t *testing.T, mode, profile string, env ...string) childResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envProfile+"="+profile)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run child %s/%s: %v", mode, profile, err)
	}
	return childResult{out.String(), errb.String(), cmd.ProcessState.Sys().(syscall.WaitStatus)}
}

func requireSeccomp(t *testing.T) {
	t.Helper()
	kavachtest.RequireLinux(t)
	if _, ok := archs[runtime.GOARCH]; !ok {
		kavachtest.Skip(t, "no syscall table for %s", runtime.GOARCH)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(b, []byte("\nSeccomp:")) {
		kavachtest.Skip(t, "requires a kernel with seccomp (no Seccomp: line in /proc/self/status)")
	}
}

func parseProbes(t *testing.T, r childResult) map[string]syscall.Errno {
	t.Helper()
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		t.Fatalf("probe child: status %v, stderr %s", r.status, r.stderr)
	}
	m := map[string]syscall.Errno{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("probe child printed %q", sc.Text())
		}
		m[name] = syscall.Errno(n)
	}
	return m
}

// TestProbes makes each probe syscall in a child under no filter, basic
// and strict, and checks each profile's result against the control: a
// denied probe must give EPERM (or ENOSYS) where the control did not, so
// the test fails if the filter stops denying; an allowed one must give
// what the control gave.
func TestProbes(t *testing.T) {
	requireSeccomp(t)
	t.Parallel()
	root := os.Geteuid() == 0
	control := parseProbes(t, runChild(t, "probe", "none"))
	for _, profile := range []string{"basic", "strict"} {
		got := parseProbes(t, runChild(t, "probe", profile))
		for _, p := range probes {
			want := p.basic
			if profile == "strict" {
				want = p.strict
			}
			c, ok := control[p.name]
			if !ok {
				continue // The architecture lacks this syscall.
			}
			t.Run(profile+"/"+p.name, func(t *testing.T) {
				g, ok := got[p.name]
				if !ok {
					t.Fatalf("the %s child did not report this probe", profile)
				}
				switch want {
				case same:
					if g != c {
						t.Errorf("got errno %d (%v), control %d (%v), want the same", g, g, c, c)
					}
				case eperm, enosys:
					w := unix.EPERM
					if want == enosys {
						w = unix.ENOSYS
					}
					if g != w {
						t.Errorf("got errno %d (%v), want %v", g, g, w)
					}
					if c == w && (root || !p.privileged) {
						t.Errorf("control run also got %v: the probe cannot tell the filter from the kernel", w)
					}
				}
			})
		}
	}
}

// TestKilled checks that an x32 syscall and an i386 syscall through
// int 0x80 kill the process with SIGSYS under both profiles, where the
// control run survives.
func TestKilled(t *testing.T) {
	requireSeccomp(t)
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		kavachtest.Skip(t, "x32 and int 0x80 exist only on amd64, running on %s", runtime.GOARCH)
	}
	for _, mode := range []string{"x32", "int80"} {
		t.Run(mode, func(t *testing.T) {
			c := runChild(t, mode, "none")
			if mode == "int80" && c.status.Signaled() {
				kavachtest.Skip(t, "int 0x80 does not work here (IA32 emulation off?): control died with %v", c.status.Signal())
			}
			if !c.status.Exited() || !strings.HasPrefix(c.stdout, "survived") {
				t.Fatalf("control: status %v, stdout %q, stderr %q", c.status, c.stdout, c.stderr)
			}
			for _, profile := range []string{"basic", "strict"} {
				r := runChild(t, mode, profile)
				if !r.status.Signaled() || r.status.Signal() != unix.SIGSYS {
					t.Errorf("%s: status %v, stdout %q, stderr %q; want killed by SIGSYS", profile, r.status, r.stdout, r.stderr)
				}
			}
		})
	}
	_ = int80.Supported
}

func TestApplyWithoutNoNewPrivs(t *testing.T) {
	requireSeccomp(t)
	t.Parallel()
	r := runChild(t, "nonnp", "none")
	if strings.HasPrefix(r.stdout, "inherited") {
		kavachtest.Skip(t, "no_new_privs is already set on the test process, cannot test its absence")
	}
	if !strings.HasPrefix(r.stdout, "is-ErrNoNewPrivs=true unfiltered=true") {
		t.Errorf("Apply without no_new_privs: stdout %q stderr %q, want ErrNoNewPrivs", r.stdout, r.stderr)
	}
}

func TestApplyAllocs(t *testing.T) {
	requireSeccomp(t)
	t.Parallel()
	r := runChild(t, "allocs", "basic")
	if !strings.HasPrefix(r.stdout, "allocs=0 err=<nil>") {
		t.Errorf("stdout %q stderr %q, want allocs=0 err=<nil>", r.stdout, r.stderr)
	}
}

// TestPrograms runs real programs under each profile: they must work, and
// what must fail fails.
func TestPrograms(t *testing.T) {
	requireSeccomp(t)
	t.Parallel()
	sh := kavachtest.RequireBinary(t, "sh")
	ls := kavachtest.RequireBinary(t, "ls")
	kavachtest.RequireFile(t, "/usr/bin/python3")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	static := buildStaticHello(t)
	coreutils := "ls -la / >/dev/null && cat /etc/hostname >/dev/null && sort /etc/passwd | head -n 1 >/dev/null && " +
		"wc -l </etc/passwd >/dev/null && d=$(mktemp -d) && cp /etc/hostname $d/h && ln -s h $d/l && " +
		"readlink $d/l >/dev/null && chmod 600 $d/h && touch $d/h && stat $d/h >/dev/null && mv $d/h $d/g && " +
		"rm -r $d && date >/dev/null && id >/dev/null && sleep 0.01 && env >/dev/null && " +
		"printf '%s\\n' a b | sed s/a/x/ | grep -c x"
	py := "import json, os, subprocess, tempfile, threading, hashlib, socket\n" +
		"t = threading.Thread(target=lambda: None); t.start(); t.join()\n" +
		"with tempfile.TemporaryDirectory() as d: open(os.path.join(d, 'x'), 'w').write(json.dumps({'a': 1}))\n" +
		"s = socket.socketpair(); s[0].send(b'x'); assert s[1].recv(1) == b'x'\n" +
		"hashlib.sha256(b'x').hexdigest()\n" +
		"print(subprocess.run(['true']).returncode)"
	type prog struct {
		name    string
		argv    []string
		next    string // child mode of the exec'd program
		wantOut string // stdout must contain it
	}
	progs := []prog{
		{"sh-pipe", []string{sh, "-c", "echo hi | cat"}, "", "hi\n"},
		{"ls", []string{ls, "/"}, "", "usr"},
		{"coreutils", []string{sh, "-c", coreutils}, "", "1\n"},
		{"python3", []string{"/usr/bin/python3", "-c", "import json, subprocess; print(subprocess.run(['true']).returncode)"}, "", "0\n"},
		{"python3-more", []string{"/usr/bin/python3", "-c", py}, "", "0\n"},
		{"go-test-binary", []string{self}, "hello", "hello from go\n"},
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		progs = append(progs, prog{"bash", []string{bash, "-c", "for i in 1 2; do echo $i; done | tac | tr -d '\\n'; echo"}, "", "21\n"})
	}
	if static != "" {
		progs = append(progs, prog{"go-static", []string{static}, "", "hello from go\n"})
	}
	for _, profile := range []string{"basic", "strict"} {
		for _, p := range progs {
			t.Run(profile+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				r := runChild(t, "exec", profile, argvEnv(p.argv), envNext+"="+p.next)
				if !r.status.Exited() || r.status.ExitStatus() != 0 || !strings.Contains(r.stdout, p.wantOut) {
					t.Errorf("status %v, stdout %q, stderr %q; want exit 0 and %q", r.status, r.stdout, r.stderr, p.wantOut)
				}
			})
		}
	}
	// unshare(1) creating a user namespace works unfiltered and is denied
	// under both profiles.
	unshare := kavachtest.RequireBinary(t, "unshare")
	for _, profile := range []string{"none", "basic", "strict"} {
		t.Run(profile+"/unshare-U", func(t *testing.T) {
			r := runChild(t, "exec", profile, argvEnv([]string{unshare, "-U", "true"}))
			ok := r.status.Exited() && r.status.ExitStatus() == 0
			if profile == "none" {
				if !ok {
					kavachtest.Skip(t, "unshare -U fails even unfiltered here: %v %s", r.status, r.stderr)
				}
				return
			}
			if ok || !strings.Contains(r.stderr, "Operation not permitted") {
				t.Errorf("status %v, stderr %q; want failure with EPERM", r.status, r.stderr)
			}
		})
	}
}

func argvEnv(argv []string) string {
	b, err := json.Marshal(argv)
	if err != nil {
		panic(err)
	}
	return envArgv + "=" + string(b)
}

// buildStaticHello builds testdata/hello with CGO_ENABLED=0, or returns ""
// with a skip-style log if there is no go command.
func buildStaticHello(t *testing.T) string {
	t.Helper()
	goCmd := kavachtest.RequireBinary(t, "go")
	out := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command(goCmd, "build", "-buildvcs=false", "-o", out, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/hello: %v\n%s", err, b)
	}
	return out
}

// BenchmarkApply measures installing a filter. A filter cannot be removed,
// so each iteration applies it to a fresh OS thread that exits afterwards
// (a goroutine that ends while locked to its thread takes the thread with
// it), on that thread only (no TSYNC). The thread's creation is part of
// ns/op; apply-ns/op is the seccomp(2) call alone.
func BenchmarkApply(b *testing.B) {
	if _, ok := archs[runtime.GOARCH]; !ok {
		b.Skip("no syscall table for " + runtime.GOARCH)
	}
	for _, name := range []string{"basic", "strict"} {
		f, err := Build(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			type result struct {
				d   time.Duration
				err error
			}
			done := make(chan result)
			var total time.Duration
			for b.Loop() {
				go func() {
					runtime.LockOSThread() // Never unlocked: the thread dies with the goroutine.
					if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
						done <- result{err: err}
						return
					}
					start := time.Now()
					err := f.install(0)
					done <- result{time.Since(start), err}
				}()
				r := <-done
				if r.err != nil {
					b.Fatal(r.err)
				}
				total += r.d
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "apply-ns/op")
		})
	}
}
