package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/internal/bundle"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/policy"
)

func TestMain(m *testing.M) {
	reexec.Init()
	os.Exit(m.Run())
}

// runtimes returns a backend per installed runtime, each forced to it.
func runtimes(t *testing.T) map[string]*oci.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	bs := map[string]*oci.Backend{}
	for _, name := range oci.Runtimes {
		kavachtest.RequireBinary(t, name)
		b := oci.New(oci.WithRuntime(name))
		if err := b.Available(t.Context()); err != nil {
			kavachtest.Skip(t, "%s installed but unusable: %v", name, err)
		}
		bs[name] = b
	}
	return bs
}

func TestConformance(t *testing.T) {
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			backendtest.Run(t, b, backendtest.Options{RunsCommands: true})
		})
	}
}

func TestConformanceStrict(t *testing.T) {
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			p := policy.Strict()
			backendtest.Run(t, b, backendtest.Options{RunsCommands: true, Policy: &p})
		})
	}
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

func create(t *testing.T, b backend.Backend, p policy.Policy) backend.Sandbox {
	t.Helper()
	sb, err := b.Create(t.Context(), backend.Spec{ID: "oci-test", Policy: p})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return sb
}

// TestConfinement checks from inside what Enforced claims: seccomp
// filter mode, no capabilities, no_new_privs, no host secrets in /etc,
// masked /proc paths.
func TestConfinement(t *testing.T) {
	masked := ""
	for _, m := range []string{"/proc/timer_list", "/proc/sched_debug", "/proc/keys"} {
		if b, err := os.ReadFile(m); err == nil && len(b) > 0 {
			masked = m
			break
		}
	}
	if masked == "" {
		kavachtest.Skip(t, "no maskable /proc file with content on this host")
	}
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name        string
				p           policy.Policy
				wantSeccomp string
			}{
				{"minimal", policy.Minimal(), "0"},
				{"basic", policy.Basic(), "2"},
				{"strict", policy.Strict(), "2"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					sb := create(t, b, tc.p)
					st, out, errs := run(t, sb, "grep -E '^(Seccomp|CapEff|CapBnd|CapPrm|NoNewPrivs):' /proc/self/status; cat /etc/shadow 2>&1 | head -c 40; echo; wc -c < "+masked)
					if st.Code != 0 {
						t.Fatalf("status %+v stderr %q", st, errs)
					}
					want := []string{"Seccomp:\t" + tc.wantSeccomp, "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "CapPrm:\t0000000000000000", "NoNewPrivs:\t1", "No such file"}
					for _, w := range want {
						if !strings.Contains(out, w) {
							t.Errorf("output lacks %q:\n%s", w, out)
						}
					}
					if !strings.HasSuffix(strings.TrimSpace(out), "\n0") {
						t.Errorf("%s is not masked:\n%s", masked, out)
					}
					if tc.wantSeccomp == "2" && sb.Enforced().SeccompRules == 0 {
						t.Errorf("Enforced %+v", sb.Enforced())
					}
				})
			}
		})
	}
}

// TestSeccompDenies shows the basic profile at work: unshare of a user
// namespace is refused by the filter.
func TestSeccompDenies(t *testing.T) {
	kavachtest.RequireBinary(t, "unshare")
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			sb := create(t, b, policy.Basic())
			st, _, errs := run(t, sb, "unshare -U true")
			if st.Code == 0 {
				t.Errorf("unshare -U succeeded under the basic profile")
			}
			if !strings.Contains(errs, "Operation not permitted") {
				t.Errorf("stderr %q", errs)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			p := policy.Basic()
			p.MemoryLimitMB = 96
			// The container's kavach init and its exec stage, two Go
			// processes with a few threads each, count in the limit too.
			p.MaxPids = 32
			sb := create(t, b, p)
			if e := sb.Enforced(); e.CgroupVersion == 0 || e.MemoryLimitMB != 96 || e.MaxPids != 32 {
				t.Fatalf("Enforced %+v", e)
			}
			// tail -n 1 of a newline-free stream keeps it all in memory.
			st, out, errs := run(t, sb, "head -c 400000000 /dev/zero | tail -n 1 >/dev/null; echo rc=$?")
			// The OOM killer takes the biggest process, tail; the init
			// reports the kill it counted in the container's cgroup.
			if !strings.Contains(out, "rc=137") || !st.OOM {
				t.Errorf("400 MB under a 96 MiB limit: %+v %q %q", st, out, errs)
			}
			if st, _, _ := run(t, sb, "true"); st.OOM {
				t.Errorf("OOM reported for a command that was not killed: %+v", st)
			}
			st, out, errs = run(t, sb, "i=0; while [ $i -lt 80 ]; do sleep 5 & i=$((i+1)); done; echo started")
			if strings.Contains(out, "started") || !strings.Contains(errs, "fork") {
				t.Errorf("80 sleeps under max_pids 32: %+v %q %q", st, out, errs)
			}
		})
	}
}

func TestNetworkAllowed(t *testing.T) {
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			p := policy.Basic()
			p.Network.Enabled = true
			sb := create(t, b, p)
			if got := sb.Enforced().Network; got != backend.NetworkHost {
				t.Fatalf("Enforced().Network = %q", got)
			}
			_, out, _ := run(t, sb, "cat /proc/net/dev")
			host, err := os.ReadFile("/proc/net/dev")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(out, ":") != strings.Count(string(host), ":") {
				t.Errorf("interfaces inside %q, host %q", out, host)
			}
		})
	}
}

func TestUnavailableReasons(t *testing.T) {
	kavachtest.RequireRoot(t)
	t.Setenv("PATH", t.TempDir())
	err := oci.New().Available(t.Context())
	if err == nil || !strings.Contains(err.Error(), "crun not found on PATH; runc not found on PATH") {
		t.Errorf("Available with an empty PATH = %v", err)
	}
}

// BenchmarkExec measures one command, /bin/true, as a fresh container in
// an existing sandbox, per runtime.
func BenchmarkExec(b *testing.B) {
	kavachtest.RequireRoot(b)
	for _, name := range oci.Runtimes {
		b.Run(name, func(b *testing.B) {
			kavachtest.RequireBinary(b, name)
			pol := policy.Basic()
			if os.Getenv("KAVACH_BENCH_STRICT") != "" {
				pol = policy.Strict()
			}
			sb, err := oci.New(oci.WithRuntime(name)).Create(b.Context(), backend.Spec{ID: "bench", Policy: pol})
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
		})
	}
}

// TestPrepare checks the per-command hook kavach's egress proxy uses: it
// gets a pid inside the container's own network namespace, runs before
// the command (which sees what it made), and its cleanup runs after.
func TestPrepare(t *testing.T) {
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			work := t.TempDir()
			var gotNS string
			cleaned := make(chan struct{})
			spec := backend.Spec{ID: "prepare", Policy: policy.Basic(), Workdir: work,
				Prepare: func(ctx context.Context, pid int) (func(), error) {
					ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
					if err != nil {
						return nil, err
					}
					gotNS = ns
					return func() { close(cleaned) }, os.WriteFile(filepath.Join(work, "prepared"), []byte("yes"), 0o644)
				}}
			sb, err := b.Create(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Destroy(context.Background())
			st, out, errs := run(t, sb, "cat /work/prepared")
			if st.Code != 0 || out != "yes" {
				t.Errorf("command after prepare: %+v %q %q", st, out, errs)
			}
			if gotNS == "" || gotNS == hostNS {
				t.Errorf("prepare saw network namespace %q (host %q)", gotNS, hostNS)
			}
			select {
			case <-cleaned:
			case <-time.After(5 * time.Second):
				t.Error("cleanup not called after the command ended")
			}
		})
	}
}

// TestNoLeaks runs leakRuns commands with the preferred runtime (at most
// 30 with the other, to keep the test short), a tenth of them killed, and checks that
// no cgroup, runtime state, bundle directory, container process or
// descriptor of this process is left behind.
func TestNoLeaks(t *testing.T) {
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			state := "/run/kavach/" + name
			before := bundle.Leftovers(backend.OCI, state)
			fds := countFDs(t)
			sb, err := b.Create(t.Context(), backend.Spec{ID: "leaks", Policy: policy.Strict()})
			if err != nil {
				t.Fatal(err)
			}
			n := leakRuns
			if name != oci.Runtimes[0] {
				n = min(n, 30)
			}
			for i := range n {
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
			if left := kavachtest.LeftBehind(before, func() []string { return bundle.Leftovers(backend.OCI, state) }, 10*time.Second); len(left) > 0 {
				t.Errorf("left behind: %v (before: %v)", left, before)
			}
			if n := countFDs(t); n > fds {
				t.Errorf("descriptors: %d before, %d after", fds, n)
			}
		})
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
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			p := policy.Basic()
			p.TimeoutMS = 500
			sb := create(t, b, p)
			start := time.Now()
			st, out, _ := run(t, sb, "sleep 100 & sleep 100 & echo started; wait")
			if st.Signal != syscall.SIGKILL || out != "started\n" {
				t.Errorf("status %+v output %q", st, out)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("a 500ms timeout took %v", d)
			}
			if err := sb.Destroy(t.Context()); err != nil {
				t.Fatal(err)
			}
			if left := bundle.Leftovers(backend.OCI, "/run/kavach/"+name); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// forgeScript tries the ways a command had to report another exit status
// than its own: a background process that keeps replacing the status
// file the init once wrote (it won the race about one run in three), and
// the init's status descriptor through /proc/1/fd.
const forgeScript = `(while :; do echo "exit 0" > /.kavach/status/f && mv /.kavach/status/f /.kavach/status/status; done) 2>/dev/null &
for fd in /proc/1/fd/*; do echo "exit 0" > "$fd" 2>/dev/null && echo "wrote $fd"; done
sleep 0.3; exit 7`

// TestStatusCannotBeForged shows that a command cannot report another
// exit status than its own.
func TestStatusCannotBeForged(t *testing.T) {
	for name, b := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			sb := create(t, b, policy.Basic())
			for range 3 {
				st, out, errs := run(t, sb, forgeScript)
				if st.Code != 7 || st.Signal != 0 {
					t.Fatalf("status %+v, want exit 7 (stdout %q, stderr %q)", st, out, errs)
				}
				if strings.Contains(out, "wrote /proc/1/fd/3") {
					t.Errorf("the command wrote to the init's status descriptor: %q", out)
				}
			}
		})
	}
}
