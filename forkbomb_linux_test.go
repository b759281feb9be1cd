package kavach

import (
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// TestForkBombGuard runs a fork bomb in a process sandbox with a small
// pids limit: it is contained, and the guard reads the refused forks from
// the sandbox's real cgroup counters and scores them.
func TestForkBombGuard(t *testing.T) {
	kavachtest.RequireRoot(t)
	p := policy.Basic()
	p.MaxPids = 12
	sb, err := Create(t.Context(), Config{Backend: backend.Process, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	if err := sb.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	clean, err := sb.Exec(t.Context(), Shell("true"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range clean.Violations {
		if v.Type == guard.ForkBomb {
			t.Fatalf("a quiet command reported %v", v)
		}
	}
	res, err := sb.Exec(t.Context(), Shell("i=0; while [ $i -lt 40 ]; do sleep 2 & i=$((i+1)); done 2>/dev/null; echo spawned"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range res.Violations {
		found = found || v.Type == guard.ForkBomb
	}
	if !found {
		t.Fatalf("fork bomb not reported: %+v", res.Violations)
	}
	if res.Threat.IntentScore == 0 {
		t.Errorf("fork bomb not scored: %+v", res.Threat)
	}
	// The next quiet command is judged on its own.
	again, err := sb.Exec(t.Context(), Shell("true"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range again.Violations {
		if v.Type == guard.ForkBomb {
			t.Errorf("the earlier fork bomb was reported again: %v", v)
		}
	}
}
