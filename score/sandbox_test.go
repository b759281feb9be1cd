package score_test

import (
	"context"
	"slices"
	"syscall"
	"testing"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/score"
)

// weak is a backend that applies less than a policy asks (as a
// best-effort backend does on a host without seccomp): its plan and its
// sandboxes enforce only the network-off part. Commands "run" at once
// and exit 0.
type weak struct {
	kind        backend.Kind
	hostNetwork bool // enforce nothing at all
}

func (w weak) enforced() backend.Enforced {
	network := backend.NetworkNone
	if w.hostNetwork {
		network = backend.NetworkHost
	}
	return backend.Enforced{
		Backend: w.kind, Network: network,
		Downgrades: []string{"seccomp strict: not available", "cgroup limits: not available"},
	}
}

func (w weak) Kind() backend.Kind              { return w.kind }
func (w weak) Available(context.Context) error { return nil }
func (w weak) Plan(context.Context, policy.Policy) (backend.Enforced, error) {
	return w.enforced(), nil
}

func (w weak) Create(context.Context, backend.Spec) (backend.Sandbox, error) {
	return weakSandbox{w}, nil
}

type weakSandbox struct{ w weak }

func (s weakSandbox) Enforced() backend.Enforced { return s.w.enforced() }
func (s weakSandbox) Start(_ context.Context, c *backend.Command) (backend.Proc, error) {
	return weakProc{}, nil
}
func (weakSandbox) Pause(context.Context) error   { return nil }
func (weakSandbox) Resume(context.Context) error  { return nil }
func (weakSandbox) Stop(context.Context) error    { return nil }
func (weakSandbox) Destroy(context.Context) error { return nil }

type weakProc struct{}

func (weakProc) Wait() (backend.ExitStatus, error) { return backend.ExitStatus{}, nil }
func (weakProc) Signal(syscall.Signal) error       { return nil }
func (weakProc) Kill() error                       { return nil }

// TestSandboxAndResultScoreAreEnforced checks that a sandbox reports the
// score of what its backend enforces, before Start (the plan), after
// Start and in every Result, and never the original's score of the
// request.
func TestSandboxAndResultScoreAreEnforced(t *testing.T) {
	ctx := context.Background()
	p := policy.Strict()
	b := weak{kind: backend.Process}
	sb, err := kavach.Create(ctx, kavach.Config{Backend: backend.Process, Policy: p, Backends: []backend.Backend{b}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(ctx)
	requested := score.Policy("process", p)
	want := b.enforced().Score()
	if want.Value != 55 || requested.Value != 65 {
		t.Fatalf("premise: enforced %s, requested %s", want, requested)
	}
	planned, err := sb.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if planned.Value != want.Value {
		t.Errorf("Score before Start = %s, want the plan's %s", planned, want)
	}
	if err := sb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := sb.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != want.Value || !slices.Equal(got.Reasons, want.Reasons) {
		t.Errorf("Score after Start = %s %q, want %s %q", got, got.Reasons, want, want.Reasons)
	}
	res, err := sb.Exec(ctx, kavach.Command{Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Score.Value != want.Value || res.Enforced.Score().Value != want.Value {
		t.Errorf("Result.Score = %s, want %s", res.Score, want)
	}
	if len(res.Enforced.Downgrades) != 2 {
		t.Errorf("Result.Enforced lost the downgrades: %+v", res.Enforced)
	}
}

// TestAutoBackendRanksByEnforced checks that Config.AutoBackend picks by
// what each backend would enforce here. The original ranks gVisor strict
// (85) above wasm strict (80); here gVisor enforces nothing (70) and wasm
// network-off (70), and the tie goes to wasm, which is cheaper to start.
func TestAutoBackendRanksByEnforced(t *testing.T) {
	ctx := context.Background()
	p := policy.Strict()
	bs := []backend.Backend{weak{kind: backend.GVisor, hostNetwork: true}, weak{kind: backend.Wasm}, weak{kind: backend.Process}}
	if score.Policy("gvisor", p).Value <= score.Policy("wasm", p).Value {
		t.Fatal("premise: the original ranks gvisor strict above wasm strict")
	}
	sb, err := kavach.Create(ctx, kavach.Config{AutoBackend: true, Policy: p, Backends: bs})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(ctx)
	if sb.Backend() != backend.Wasm {
		t.Fatalf("auto chose %s, want wasm (enforced 70, tie with gvisor's 70, cheaper to start)", sb.Backend())
	}
	got, err := sb.Score(ctx)
	if err != nil || got.Value != 70 {
		t.Fatalf("auto sandbox scores %s, %v; want 70", got, err)
	}
}
