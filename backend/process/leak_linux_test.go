package process_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/policy"
)

// leakPrefix names this test process's sandboxes, so that concurrent
// runs of the test do not see each other's.
var leakPrefix = fmt.Sprintf("leak-%d-", os.Getpid())

// hostState is what a sandbox could leave behind on the host.
type hostState struct {
	procs   int
	mounts  int
	cgroups []string
	fds     int
}

func snapshot(t *testing.T, stateDir string) hostState {
	t.Helper()
	var s hostState
	s.procs = sandboxProcs(t, leakPrefix)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// Only this test's mounts: other programs may run sandboxes now.
	s.mounts = strings.Count(string(mi), stateDir)
	if h, err := cgroup.Detect(); err == nil {
		var roots []string
		if h.Version == 1 {
			for _, m := range h.Mounts {
				roots = append(roots, filepath.Join(m, cgroup.ParentName))
			}
		} else {
			roots = append(roots, filepath.Join(h.Root, cgroup.ParentName))
		}
		for _, r := range roots {
			ents, _ := os.ReadDir(r)
			for _, e := range ents {
				if e.IsDir() && strings.HasPrefix(e.Name(), leakPrefix) {
					s.cgroups = append(s.cgroups, filepath.Join(r, e.Name()))
				}
			}
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(fds)
	if ents, err := os.ReadDir(stateDir); err != nil || len(ents) != 0 {
		t.Errorf("state dir %s holds %d entries (%v)", stateDir, len(ents), err)
	}
	return s
}

func checkNoLeaks(t *testing.T, before hostState, stateDir string) {
	t.Helper()
	after := snapshot(t, stateDir)
	if after.procs != 0 {
		t.Errorf("%d sandbox processes left", after.procs)
	}
	if after.mounts != before.mounts {
		t.Errorf("host mounts: %d before, %d after", before.mounts, after.mounts)
	}
	if len(after.cgroups) != 0 {
		t.Errorf("cgroups left: %v", after.cgroups)
	}
	if after.fds != before.fds {
		t.Errorf("descriptors: %d before, %d after", before.fds, after.fds)
	}
}

func oneSandbox(b *process.Backend, i int) error {
	ctx := testingContext()
	sb, err := b.Create(ctx, backend.Spec{ID: fmt.Sprintf("%s%d", leakPrefix, i), Policy: policy.Strict()})
	if err != nil {
		return err
	}
	var out syncBuffer
	p, err := sb.Start(ctx, &backend.Command{Args: []string{"/bin/sh", "-c", "echo ok; sleep 100 & exit 0"}, Env: pathEnv, Stdout: &out, Stderr: &out})
	if err != nil {
		sb.Destroy(ctx)
		return err
	}
	st, err := p.Wait()
	if derr := sb.Destroy(ctx); err == nil {
		err = derr
	}
	if err == nil && (st.Code != 0 || out.String() != "ok\n") {
		err = fmt.Errorf("sandbox %d: %+v %q", i, st, out.String())
	}
	return err
}

// TestNoLeaks runs 500 sandboxes in a row (50 with -short, 5 with -race,
// whose runtime takes a second to start in every sandbox init) and
// 20 at once, and checks that no process, mount, cgroup, state directory
// or descriptor is left behind.
func TestNoLeaks(t *testing.T) {
	stateDir := hostDir(t, 0o755)
	b := requireBackend(t, process.WithStateDir(stateDir))
	before := snapshot(t, stateDir)
	n := 500
	switch {
	case raceEnabled:
		n = 5
	case testing.Short():
		n = 50
	}
	t.Run(fmt.Sprintf("%d in a row", n), func(t *testing.T) {
		for i := range n {
			if err := oneSandbox(b, i); err != nil {
				t.Fatal(err)
			}
		}
		checkNoLeaks(t, before, stateDir)
	})
	t.Run("20 at once", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Go(func() { errs <- oneSandbox(b, 1000+i) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		checkNoLeaks(t, before, stateDir)
	})
}
