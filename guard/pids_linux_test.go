package guard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

// pidsRoot finds a cgroup directory under which a pids-limited child can
// be made: the v1 pids controller, or the v2 root when it delegates pids.
func pidsRoot(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/pids/cgroup.procs"); err == nil {
		return "/sys/fs/cgroup/pids"
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control"); err == nil && slices.Contains(strings.Fields(string(b)), "pids") {
		return "/sys/fs/cgroup"
	}
	kavachtest.Skip(t, "requires the pids cgroup controller (v1 /sys/fs/cgroup/pids or v2 with pids in cgroup.subtree_control); found neither")
	return ""
}

// TestForkBombRealCgroup makes a real pids cgroup with pids.max=5, lets a
// shell in it fork until the kernel refuses, and checks that the guard
// reads the refusal from pids.events.
func TestForkBombRealCgroup(t *testing.T) {
	kavachtest.RequireRoot(t)
	dir := filepath.Join(pidsRoot(t), fmt.Sprintf("kavach-guard-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	t.Cleanup(func() { removeCgroup(t, dir, cmd) })
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte("5"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if vs, st, err := CheckCgroupPids(ctx, dir, Config{}); err != nil || len(vs) != 0 || st.Current != 0 || st.Max != 5 {
		t.Fatalf("empty cgroup: %v %+v %v", vs, st, err)
	}
	// A reader opened now must see the counters move through its kept
	// descriptors (kernfs files re-read from offset 0).
	r, err := OpenPids(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// The shell waits on stdin until it is in the cgroup, then forks 20
	// sleeps; the fifth fork (shell + 4 sleeps = 5) must fail.
	cmd = exec.Command("/bin/sh", "-c", "read x; i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); done; wait")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	stdin.Close()

	var vs []Violation
	var st PidsStat
	deadline := time.Now().Add(10 * time.Second)
	for {
		vs, st, err = CheckCgroupPids(ctx, dir, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if st.MaxEvents > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.MaxEvents <= 0 {
		t.Fatalf("no fork was refused: %+v", st)
	}
	if st.Current > 5 {
		t.Errorf("pids.current %d above pids.max 5", st.Current)
	}
	if got := hits(vs); len(got) == 0 || got[0] != "fork_bomb:pids.events" {
		t.Fatalf("guard reported %q for %+v, want the refused forks first", got, st)
	}
	if rst, err := r.Read(ctx); err != nil || rst.MaxEvents < st.MaxEvents || rst.Max != 5 || rst.Current == 0 {
		t.Errorf("kept-open reader: %+v, %v; ReadPids saw %+v", rst, err, st)
	}
	t.Logf("stat %+v, violations %v", st, vs)
}

// removeCgroup kills every process in dir, reaps cmd and removes dir.
func removeCgroup(t *testing.T, dir string, cmd *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		pids := strings.Fields(string(b))
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
		if len(pids) == 0 {
			if err := os.Remove(dir); err == nil || time.Now().After(deadline) {
				if err != nil {
					t.Errorf("remove cgroup %s: %v", dir, err)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("cgroup %s still has processes %v", dir, pids)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
