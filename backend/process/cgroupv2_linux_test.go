package process_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// TestCgroupV2 runs sandboxes in the host's cgroup2 hierarchy, even a
// hybrid host's controller-less one: the init is born in its group
// (CLONE_INTO_CGROUP), its cgroup namespace is rooted there, Pause
// freezes through cgroup.freeze, and Destroy removes the group. A limit
// whose controller the hierarchy lacks is refused with the reason.
func TestCgroupV2(t *testing.T) {
	kavachtest.RequireRoot(t)
	root := ""
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 {
			root = f[4]
		}
	}
	if root == "" {
		kavachtest.Skip(t, "no cgroup2 hierarchy is mounted")
	}
	h := cgroup.Host{Version: 2, Root: root}
	b := requireBackend(t, process.WithCgroupHost(h))
	ctrl, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if !strings.Contains(string(ctrl), "memory") {
		p := policy.Basic()
		p.MemoryLimitMB = 64
		if _, err := b.Create(t.Context(), backend.Spec{ID: "v2-mem", Policy: p}); err == nil || !strings.Contains(err.Error(), "memory") {
			t.Errorf("memory limit without the memory controller: %v", err)
		}
	}

	pattern := filepath.Join(root, cgroup.ParentName, "TestCgroupV2-*")
	earlier, _ := filepath.Glob(pattern)
	sb := create(t, b, policy.Basic())
	var ours []string
	all, _ := filepath.Glob(pattern)
	for _, g := range all {
		if !slices.Contains(earlier, g) {
			ours = append(ours, g)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("the sandbox's group: %v (before Create: %v)", all, earlier)
	}
	r := run(t, sb, pathEnv, "cat", "/proc/self/cgroup")
	if r.st.Code != 0 || !strings.Contains("\n"+r.stdout, "\n0::/\n") {
		t.Fatalf("cgroup inside: %+v", r)
	}
	out := &syncBuffer{}
	p, err := sb.Start(t.Context(), &backend.Command{
		Args: []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done"}, Env: pathEnv,
		Stdout: out, Stderr: &syncBuffer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill(); _, _ = p.Wait() }()
	lines := func() int { return strings.Count(out.String(), "\n") }
	waitFor(t, func() bool { return lines() > 3 })
	procs, _ := os.ReadFile(filepath.Join(ours[0], "cgroup.procs"))
	if members := len(strings.Fields(string(procs))); members < 2 { // the init and the shell, at least
		t.Errorf("the sandbox's v2 group %s has %d members", ours[0], members)
	}
	if err := sb.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	frozen := lines()
	time.Sleep(300 * time.Millisecond)
	if got := lines(); got != frozen {
		t.Errorf("counter advanced from %d to %d while paused", frozen, got)
	}
	if err := sb.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return lines() > frozen+3 })
	_ = p.Kill()
	_, _ = p.Wait()

	// Other tests (the oci backend's) make groups beside ours meanwhile:
	// only ours must go.
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ours[0]); !os.IsNotExist(err) {
		t.Errorf("the sandbox's group %s after Destroy: %v", ours[0], err)
	}
}
