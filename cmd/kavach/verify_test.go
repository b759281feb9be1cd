package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/gvisor"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/probe"
	"github.com/kavach-go/kavach/score"
)

// init runs the probe role when `kavach verify` re-runs this test binary
// inside a sandbox (it is what os.Executable returns in a test), before
// the testing package sees the arguments.
func init() {
	if len(os.Args) > 1 && os.Args[1] == probeCmdName {
		c := newProbeCmd()
		c.SetArgs(os.Args[2:])
		c.SilenceUsage = true
		if err := c.Execute(); err != nil {
			os.Stderr.WriteString("kavach: " + err.Error() + "\n")
			os.Exit(exitKavachFailed)
		}
		os.Exit(0)
	}
}

func TestProbeRoleRefusesOnHost(t *testing.T) {
	kavachtest.RequireLinux(t)
	ns, err := probe.HostNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	hj, _ := json.Marshal(probe.HostInfo{Namespaces: ns, PID: os.Getpid()})
	code, out, stderr := run(t, "", probeCmdName, "--host-info", string(hj))
	if code != exitKavachFailed || out != "" || !strings.Contains(stderr, "not inside a sandbox") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, _, stderr = run(t, "", probeCmdName, "--host-info", "{not json")
	if code != exitKavachFailed || !strings.Contains(stderr, "bad host info") {
		t.Fatalf("bad JSON: exit %d, stderr %q", code, stderr)
	}
}

func TestProbeHidden(t *testing.T) {
	_, out, _ := run(t, "", "--help")
	if strings.Contains(out, probeCmdName) {
		t.Fatalf("help lists the hidden probe role:\n%s", out)
	}
	if !strings.Contains(out, "verify") || !strings.Contains(out, "score") {
		t.Fatalf("help lacks verify or score:\n%s", out)
	}
}

func TestVerifyErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown backend", []string{"verify", "-b", "nonsense"}, `kavach: unknown backend: "nonsense"`},
		{"unknown policy", []string{"verify", "-p", "paranoid"}, "kavach: unknown policy"},
		{"unavailable backend", []string{"verify", "-b", "tdx"}, "kavach: create sandbox: backend not available: tdx"},
		{"noop runs nothing", []string{"verify", "-b", "noop"}, "kavach: probe: backend cannot run the probe: noop runs no command"},
		{"wasm has nothing to probe", []string{"verify", "-b", "wasm"}, "kavach: probe: backend cannot run the probe: wasm runs only WebAssembly modules"},
		{"bad timeout", []string{"verify", "--timeout", "0s"}, "kavach: --timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tc.args...)
			if code != exitKavachFailed || !strings.HasPrefix(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want 125 and %q", code, stderr, tc.stderr)
			}
		})
	}
}

// processBackends is the backend list the end-to-end tests use: the
// process backend itself, so they do not depend on how kavach.Backends()
// is wired.
func processBackends() []backend.Backend {
	return []backend.Backend{process.New(), noop.New()}
}

// requireProcess skips (fails under KAVACH_TEST_STRICT) unless the
// process backend can run here.
func requireProcess(t *testing.T) {
	t.Helper()
	kavachtest.RequireRoot(t)
	if err := process.New().Available(context.Background()); err != nil {
		kavachtest.Skip(t, "process backend unavailable: %v", err)
	}
}

func verifyRun(t *testing.T, pol policy.Policy) *verifyView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := verify(ctx, kavach.Config{Backend: backend.Process, Backends: processBackends()}, pol)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return v
}

func failedChecks(v *verifyView) []string {
	var ids []string
	for _, c := range v.Checks {
		if !c.Pass {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func logReport(t *testing.T, v *verifyView) {
	t.Helper()
	var b strings.Builder
	_ = printReport(&b, v)
	t.Log("\n" + b.String())
}

// TestVerifyProcessPresets runs the battery in process sandboxes of the
// three presets: strict must verify completely, and from minimal to
// basic to strict the verified score never drops and the number of
// failed checks never grows.
func TestVerifyProcessPresets(t *testing.T) {
	requireProcess(t)
	var prev *verifyView
	views := map[string]*verifyView{}
	for _, name := range policy.PresetNames() {
		p, _ := policy.Preset(name)
		v := verifyRun(t, p)
		views[name] = v
		if !v.OK || v.Claimed.Value != v.Verified.Value {
			logReport(t, v)
			t.Errorf("%s: claimed %s, verified %s, failed %v", name, v.Claimed, v.Verified, v.Failed)
		}
		if v.HostTCPConnections != 0 {
			t.Errorf("%s: the host's loopback listener accepted %d connections", name, v.HostTCPConnections)
		}
		if prev != nil {
			if v.Verified.Value < prev.Verified.Value {
				t.Errorf("%s verified %d < previous preset's %d", name, v.Verified.Value, prev.Verified.Value)
			}
			if n, pn := len(failedChecks(v)), len(failedChecks(prev)); n > pn {
				t.Errorf("%s fails %d checks %v, previous preset %d %v", name, n, failedChecks(v), pn, failedChecks(prev))
			}
		}
		prev = v
	}
	strict := views["strict"]
	if strict == nil {
		return
	}
	if len(strict.Checks) < 30 {
		t.Errorf("strict ran %d checks", len(strict.Checks))
	}
	for _, c := range strict.Checks {
		if c.Expected && !c.Pass {
			t.Errorf("strict: %s failed: %s", c.ID, c.Detail)
		}
	}
	// Every check the strict claim implies ran and passed, including the
	// ones that need the limits.
	for _, id := range []string{"seccomp.mode", "limits.memory", "limits.cpu", "limits.pids", "sys.keyctl", "landlock.write"} {
		i := slices.IndexFunc(strict.Checks, func(r probe.Result) bool { return r.ID == id })
		if i < 0 || !strict.Checks[i].Expected || !strict.Checks[i].Pass {
			t.Errorf("strict: %s not expected and passed: %+v", id, strict.Checks[i])
		}
	}

	// A claim that says more than the sandbox does loses exactly the
	// points of the layer that is missing: seccomp for a minimal sandbox,
	// network-off for one on the host's network.
	minimal := views["minimal"]
	lie := minimal.Enforced
	lie.Seccomp, lie.SeccompRules = "basic", 1
	rep, err := probe.Evaluate(lie, minimal.output)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Claimed.Value != minimal.Claimed.Value+5 || rep.Verified.Value != minimal.Claimed.Value ||
		!slices.Equal(rep.Lost, []probe.Modifier{probe.Seccomp}) || rep.OK {
		t.Errorf("seccomp lie: claimed %d verified %d lost %v ok %v; minimal claims %d",
			rep.Claimed.Value, rep.Verified.Value, rep.Lost, rep.OK, minimal.Claimed.Value)
	}
}

// TestVerifyBrokenNetworkLayer runs a sandbox on the host's network and
// evaluates it against a claim of network off: the verified score is the
// claim minus the network-off points, and the CLI exits 1.
func TestVerifyBrokenNetworkLayer(t *testing.T) {
	requireProcess(t)
	p := policy.Basic()
	p.Network.Enabled = true
	v := verifyRun(t, p)
	if !v.OK {
		logReport(t, v)
		t.Fatalf("host-network sandbox does not verify its own (weaker) claim: failed %v", v.Failed)
	}
	lie := v.Enforced
	lie.Network = backend.NetworkNone
	rep, err := probe.Evaluate(lie, v.output)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Claimed.Value-rep.Verified.Value != 5 || !slices.Equal(rep.Lost, []probe.Modifier{probe.NetworkOff}) {
		t.Fatalf("network lie: claimed %d verified %d lost %v", rep.Claimed.Value, rep.Verified.Value, rep.Lost)
	}
	for _, id := range []string{"net.host_tcp", "net.interfaces", "net.route"} {
		if !slices.Contains(rep.Failed, id) {
			t.Errorf("network lie: %s did not fail (failed %v)", id, rep.Failed)
		}
	}
}

func TestVerifyCLI(t *testing.T) {
	requireProcess(t)
	verifyBackends = processBackends()
	defer func() { verifyBackends = nil }()
	code, out, stderr := run(t, "", "verify", "-b", "process", "-p", "strict")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
	}
	for _, want := range []string{"claimed:  68 (standard)", "verified: 68 (standard)", "seccomp.mode", "ok: claimed 68 == verified 68"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVerifyJSON(t *testing.T) {
	v := &verifyView{Policy: "strict", Report: probe.Report{Backend: "process"}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"claimed", "verified", "checks", "ok", "enforced", "backend", "policy", "host_tcp_connections"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}

// liar wraps a backend and claims seccomp "basic" on top of what the
// wrapped backend really enforces: a backend whose seccomp layer broke.
type liar struct{ backend.Backend }

func (l liar) lie(e backend.Enforced) backend.Enforced {
	e.Seccomp, e.SeccompRules = "basic", 1
	return e
}

func (l liar) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	e, err := l.Backend.Plan(ctx, p)
	return l.lie(e), err
}

func (l liar) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	sb, err := l.Backend.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	return liarSandbox{sb, l}, nil
}

type liarSandbox struct {
	backend.Sandbox
	l liar
}

func (s liarSandbox) Enforced() backend.Enforced { return s.l.lie(s.Sandbox.Enforced()) }

// TestVerifyCLICatchesBrokenSeccomp runs a minimal process sandbox whose
// backend claims seccomp: verify must exit 1 and verify exactly the
// seccomp points less than claimed.
func TestVerifyCLICatchesBrokenSeccomp(t *testing.T) {
	requireProcess(t)
	verifyBackends = []backend.Backend{liar{process.New()}}
	defer func() { verifyBackends = nil }()
	code, out, stderr := run(t, "", "verify", "-b", "process", "-p", "minimal")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q\n%s", code, stderr, out)
	}
	honest := score.Enforced("process", score.Facts{LandlockRules: 1, NetworkOff: true, ReadOnlyRoot: true}).Value
	want := fmt.Sprintf("NOT VERIFIED: claimed %d, verified %d;", honest+5, honest)
	if !strings.Contains(out, want) || !strings.Contains(out, "not verified: seccomp") {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
	for _, id := range []string{"seccomp.mode", "sys.keyctl", "sys.clone_newuser"} {
		if !strings.Contains(out, id+" ") || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(id)+`\s+FAIL\s+pass`).MatchString(out) {
			t.Errorf("%s is not reported as an expected check that failed", id)
		}
	}
}

// requireContainer skips (fails under KAVACH_TEST_STRICT) unless the
// backend b can run here.
func requireContainer(t *testing.T, b backend.Backend) {
	t.Helper()
	kavachtest.RequireRoot(t)
	if err := b.Available(context.Background()); err != nil {
		kavachtest.Skip(t, "%s backend unavailable: %v", b.Kind(), err)
	}
}

// busyLoop keeps one CPU of the host busy until the test ends, as another
// tenant of the machine would.
func busyLoop(t *testing.T) {
	t.Helper()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for x := 0; !stop.Load(); x++ {
		}
	}()
	t.Cleanup(func() {
		stop.Store(true)
		<-done
	})
}

// TestVerifyContainersStrict runs `kavach verify -p strict` several times
// under gVisor and OCI, idle and with one host CPU busy: every run must
// verify what it claims, the CPU limit included. Under gVisor the CPU
// check once trusted getrusage, which the sentry answers from its own
// accounting (a thread counts as running while the host throttles it),
// and about half the runs failed limits.cpu.
func TestVerifyContainersStrict(t *testing.T) {
	for _, tc := range []struct {
		b    backend.Backend
		runs int
	}{
		{gvisor.New(), 4},
		{oci.New(), 2},
	} {
		t.Run(tc.b.Kind().String(), func(t *testing.T) {
			requireContainer(t, tc.b)
			verifyBackends = []backend.Backend{tc.b}
			defer func() { verifyBackends = nil }()
			for i := range tc.runs {
				if i == tc.runs/2 {
					busyLoop(t)
				}
				p := policy.Strict()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				v, err := verify(ctx, kavach.Config{Backend: tc.b.Kind(), Backends: verifyBackends}, p)
				cancel()
				if err != nil {
					t.Fatalf("run %d: verify: %v", i, err)
				}
				if !v.OK || v.Claimed.Value != v.Verified.Value {
					logReport(t, v)
					t.Fatalf("run %d: claimed %s, verified %s, failed %v", i, v.Claimed, v.Verified, v.Failed)
				}
				i := slices.IndexFunc(v.Checks, func(r probe.Result) bool { return r.ID == "limits.cpu" })
				if i < 0 || !v.Checks[i].Expected || !v.Checks[i].Pass {
					t.Fatalf("limits.cpu not expected and passed: %+v", v.Checks)
				}
				t.Logf("limits.cpu: %s", v.Checks[i].Detail)
			}
		})
	}
}

// TestVerifyPrintsKeptLimitPoints renders a report in which the CPU
// check failed while the memory check held: the +2 for a limit stays, so
// the verified score equals the claimed one, and the text must say why
// rather than list the part as lost beside an unchanged score.
func TestVerifyPrintsKeptLimitPoints(t *testing.T) {
	claim := backend.Enforced{
		Backend: backend.GVisor, Namespaces: []string{"pid", "net", "mount", "ipc", "uts"},
		Root: "tmpfs", ReadOnlyRoot: true, NoNewPrivs: true, Seccomp: "strict", SeccompRules: 300,
		Network: backend.NetworkNone, MemoryLimitMB: 512, CPULimit: 1, MaxPids: 64,
	}
	out := probe.Output{Version: probe.OutputVersion}
	for _, c := range probe.Checks() {
		out.Checks = append(out.Checks, probe.Result{ID: c.ID, Pass: c.ID != "limits.cpu"})
	}
	rep, err := probe.Evaluate(claim, out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Claimed.Value != rep.Verified.Value {
		t.Fatalf("premise: claimed %d verified %d ok %v", rep.Claimed.Value, rep.Verified.Value, rep.OK)
	}
	var b strings.Builder
	if err := printReport(&b, &verifyView{Policy: "strict", Report: rep, Enforced: claim}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"+2 memory 512 MiB\n",
		"not verified: resource_limit (limits.cpu failed); its points stay: limits.memory passed",
		fmt.Sprintf("NOT VERIFIED: claimed %d, verified %d; 1 expected check(s) failed: limits.cpu", rep.Claimed.Value, rep.Verified.Value),
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
