package gvisor_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/gvisor"
	"github.com/kavach-go/kavach/internal/bundle"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/policy"
)

func TestMain(m *testing.M) {
	reexec.Init()
	os.Exit(m.Run())
}

var shared = gvisor.New()

func available(t *testing.T) *gvisor.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	kavachtest.RequireBinary(t, "runsc")
	if err := shared.Available(t.Context()); err != nil {
		kavachtest.Skip(t, "runsc installed but unusable: %v", err)
	}
	return shared
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, available(t), backendtest.Options{RunsCommands: true})
}

func TestConformanceStrict(t *testing.T) {
	p := policy.Strict()
	backendtest.Run(t, available(t), backendtest.Options{RunsCommands: true, Policy: &p})
}

func run(t *testing.T, sb backend.Sandbox, script string) (backend.ExitStatus, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	p, err := sb.Start(t.Context(), &backend.Command{
		Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v (stderr %q)", err, errb.String())
	}
	return st, out.String(), errb.String()
}

// TestInsideGVisor checks that the command really runs on gVisor's
// kernel, with kavach's seccomp filter and no capabilities.
func TestInsideGVisor(t *testing.T) {
	b := available(t)
	sb, err := b.Create(t.Context(), backend.Spec{ID: "gvisor-test", Policy: policy.Basic()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	st, out, errs := run(t, sb, "cat /proc/version; grep -E '^(Seccomp|CapEff):' /proc/self/status; unshare -U true 2>&1; echo unshare=$?")
	if st.Code != 0 {
		t.Fatalf("status %+v stderr %q", st, errs)
	}
	host, err := os.ReadFile("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, string(host)) {
		t.Errorf("/proc/version inside is the host kernel's: %s", host)
	}
	for _, w := range []string{"Seccomp:\t2", "CapEff:\t0000000000000000"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "unshare=0") {
		t.Errorf("unshare -U succeeded under the basic profile:\n%s", out)
	}
	_, platform, _ := b.Runsc(t.Context())
	if e := sb.Enforced(); e.Backend != backend.GVisor || !strings.Contains(e.Root, platform) || e.Seccomp != "basic" {
		t.Errorf("Enforced %+v", e)
	}
}

func TestUnavailableReasons(t *testing.T) {
	kavachtest.RequireRoot(t)
	t.Setenv("PATH", t.TempDir())
	err := gvisor.New().Available(t.Context())
	if err == nil || !strings.Contains(err.Error(), "runsc not found on PATH") {
		t.Errorf("Available with an empty PATH = %v", err)
	}
	err = gvisor.New(gvisor.WithRunsc("/bin/false")).Available(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--platform=systrap cannot start a sandbox") || !strings.Contains(err.Error(), "--platform=ptrace") {
		t.Errorf("Available with a broken runsc = %v", err)
	}
}

// BenchmarkExec measures one command, /bin/true, as a fresh gVisor
// container in an existing sandbox.
func BenchmarkExec(b *testing.B) {
	kavachtest.RequireRoot(b)
	kavachtest.RequireBinary(b, "runsc")
	sb, err := shared.Create(b.Context(), backend.Spec{ID: "bench", Policy: policy.Basic()})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	for b.Loop() {
		p, err := sb.Start(b.Context(), &backend.Command{Args: []string{"/bin/true"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := p.Wait(); err != nil || st.Code != 0 {
			b.Fatalf("status %+v %v", st, err)
		}
	}
}

// TestMaxPids checks that max_pids limits the command's processes, not
// the sentry's host threads: a limit far below the sentry's own thread
// count must still start, and must stop the 17th process.
func TestMaxPids(t *testing.T) {
	b := available(t)
	p := policy.Basic()
	p.MaxPids = 16
	sb, err := b.Create(t.Context(), backend.Spec{ID: "gvisor-pids", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	if e := sb.Enforced(); e.MaxPids != 16 || !e.Rlimits || slices.Contains(e.Namespaces, "cgroup") {
		t.Errorf("Enforced %+v", e)
	}
	st, out, errs := run(t, sb, "echo alive; i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done; echo started")
	if !strings.Contains(out, "alive") || strings.Contains(out, "started") || !strings.Contains(errs, "fork") {
		t.Errorf("40 sleeps under max_pids 16: %+v %q %q", st, out, errs)
	}
}

// TestNoLeaks runs leakRuns commands, a tenth of them killed, and checks that
// no cgroup, runsc state, bundle directory, sandbox process or descriptor
// of this process is left behind.
func TestNoLeaks(t *testing.T) {
	b := available(t)
	_, platform, _ := b.Runsc(t.Context())
	state := "/run/kavach/runsc/" + platform
	before := bundle.Leftovers(backend.GVisor, state)
	fds := countFDs(t)
	sb, err := b.Create(t.Context(), backend.Spec{ID: "leaks", Policy: policy.Strict()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range leakRuns {
		args := []string{"/bin/true"}
		if i%10 == 9 {
			args = []string{"/bin/sleep", "100"}
		}
		p, err := sb.Start(t.Context(), &backend.Command{Args: args, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		if err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			_ = p.Kill()
		}
		if _, err := p.Wait(); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left := kavachtest.LeftBehind(before, func() []string { return bundle.Leftovers(backend.GVisor, state) }, 10*time.Second); len(left) > 0 {
		t.Errorf("left behind: %v (before: %v)", left, before)
	}
	if n := countFDs(t); n > fds {
		t.Errorf("descriptors: %d before, %d after", fds, n)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestTimeout checks that the policy's timeout kills the command and
// everything it started.
func TestTimeout(t *testing.T) {
	b := available(t)
	p := policy.Basic()
	p.TimeoutMS = 500
	sb, err := b.Create(t.Context(), backend.Spec{ID: "gvisor-timeout", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	start := time.Now()
	st, out, _ := run(t, sb, "sleep 100 & sleep 100 & echo started; wait")
	if st.Signal != syscall.SIGKILL || out != "started\n" {
		t.Errorf("status %+v output %q", st, out)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("a 500ms timeout took %v", d)
	}
}

// TestStatusCannotBeForged shows that a command cannot report another
// exit status than its own: neither through a status file nor through
// the init's status descriptor.
func TestStatusCannotBeForged(t *testing.T) {
	sb, err := available(t).Create(t.Context(), backend.Spec{ID: "gvisor-forge", Policy: policy.Basic()})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = sb.Destroy(context.Background()) })
	for range 3 {
		st, out, errs := run(t, sb, `(while :; do echo "exit 0" > /.kavach/status/f && mv /.kavach/status/f /.kavach/status/status; done) 2>/dev/null &
for fd in /proc/1/fd/*; do echo "exit 0" > "$fd" 2>/dev/null && echo "wrote $fd"; done
sleep 0.3; exit 7`)
		if st.Code != 7 || st.Signal != 0 {
			t.Fatalf("status %+v, want exit 7 (stdout %q, stderr %q)", st, out, errs)
		}
		if strings.Contains(out, "wrote /proc/1/fd/3") {
			t.Errorf("the command wrote to the init's status descriptor: %q", out)
		}
	}
}
