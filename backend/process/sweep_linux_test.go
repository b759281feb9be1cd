package process

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestSweepRemovesDeadOwners leaves behind what a killed kavach would (a
// state directory with a mounted /tmp and a cgroup) and checks that the
// sweep removes it, and keeps the sandbox of a live owner.
func TestSweepRemovesDeadOwners(t *testing.T) {
	kavachtest.RequireRoot(t)
	h, err := cgroup.Detect()
	if err != nil {
		kavachtest.Skip(t, "requires cgroups: %v", err)
	}
	base := t.TempDir()
	// A dead owner: a process that has exited.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(base, "kavach-stale-1")
	if err := os.MkdirAll(filepath.Join(stale, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("kavach-tmp", filepath.Join(stale, "tmp"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	cg, err := cgroup.New(h, fmt.Sprintf("sweep-test-%d", os.Getpid()), cgroup.Limits{})
	if err != nil {
		unix.Unmount(filepath.Join(stale, "tmp"), unix.MNT_DETACH)
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Delete(t.Context()) })
	// A member, frozen: the owner died while the sandbox was paused.
	member := exec.Command("sleep", "1000")
	if err := member.Start(); err != nil {
		t.Fatal(err)
	}
	go member.Wait()
	if err := cg.Add(member.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := cg.Freeze(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := writeOwner(stale, cg.Dirs()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, ownerFile), fmt.Appendf(nil, "%d 12345\n", dead.Process.Pid), 0o600); err != nil {
		t.Fatal(err)
	}
	// A live owner: this process.
	live := filepath.Join(base, "kavach-live-1")
	if err := os.Mkdir(live, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeOwner(live, nil); err != nil {
		t.Fatal(err)
	}
	// Not a sandbox: no owner record.
	other := filepath.Join(base, "kavach-other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}

	sweep(base)

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		unix.Unmount(filepath.Join(stale, "tmp"), unix.MNT_DETACH)
		t.Errorf("stale sandbox state left: %v", err)
	}
	for _, d := range cg.Dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("stale cgroup %s left: %v", d, err)
		}
	}
	for _, d := range []string{live, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}
