package cgroup_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

func host(t *testing.T) cgroup.Host {
	t.Helper()
	kavachtest.RequireRoot(t)
	h, err := cgroup.Detect()
	if err != nil {
		kavachtest.Skip(t, "requires a usable cgroup hierarchy: %v", err)
	}
	return h
}

func name(t *testing.T) string {
	return fmt.Sprintf("test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
}

func TestLimitsAndLifecycle(t *testing.T) {
	h := host(t)
	cg, err := cgroup.New(h, name(t), cgroup.Limits{MemoryBytes: 64 << 20, CPU: 0.5, Pids: 16})
	if err != nil {
		t.Fatal(err)
	}
	dirs := cg.Dirs()
	t.Cleanup(func() { _ = cg.Delete(t.Context()) })
	want := map[string]string{}
	if h.Version == 1 {
		want[filepath.Join(dirs[0], "memory.limit_in_bytes")] = "67108864"
		want[filepath.Join(dirs[1], "pids.max")] = "16"
		want[filepath.Join(dirs[2], "cpu.cfs_quota_us")] = "50000"
	} else {
		want[filepath.Join(dirs[0], "memory.max")] = "67108864"
		want[filepath.Join(dirs[0], "pids.max")] = "16"
		want[filepath.Join(dirs[0], "cpu.max")] = "50000 100000"
	}
	for f, v := range want {
		got, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(got)) != v {
			t.Errorf("%s = %q, %v; want %s", f, got, err, v)
		}
	}

	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	procs, err := cg.Procs()
	if err != nil || !slices.Contains(procs, cmd.Process.Pid) {
		t.Fatalf("procs %v, %v; want %d in it", procs, err, cmd.Process.Pid)
	}
	if err := cg.Freeze(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := cg.Thaw(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := cg.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("member not killed by Delete")
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", d, err)
		}
	}
	if err := cg.Delete(t.Context()); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func TestOOMKillCounted(t *testing.T) {
	h := host(t)
	py := kavachtest.RequireBinary(t, "python3")
	cg, err := cgroup.New(h, name(t), cgroup.Limits{MemoryBytes: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Delete(t.Context()) })
	// The child waits until it is in the group, then allocates.
	cmd := exec.Command(py, "-c", "import sys; sys.stdin.read(1); b = bytearray(256<<20); b[::4096] = b'x'*len(b[::4096])")
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("g"))
	err = cmd.Wait()
	n, cerr := cg.OOMKills()
	if cerr != nil || n == 0 {
		t.Errorf("oom kills = %d, %v after %v; want >= 1", n, cerr, err)
	}
}

// TestStartInLeavesNoThread checks that StartIn's thread is in the group
// while start runs, and that afterwards no thread of this process is.
func TestStartInLeavesNoThread(t *testing.T) {
	h := host(t)
	if h.Version != 1 {
		kavachtest.Skip(t, "StartIn is the v1 path; host has v%d", h.Version)
	}
	cg, err := cgroup.New(h, name(t), cgroup.Limits{Pids: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Delete(t.Context()) })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				var inside string
				if err := cg.StartIn(func() error {
					b, err := os.ReadFile("/proc/thread-self/cgroup")
					inside = string(b)
					return err
				}); err != nil {
					t.Error(err)
					return
				}
				if !strings.Contains(inside, name(t)) {
					t.Errorf("start ran outside the group: %s", inside)
				}
			}
		})
	}
	wg.Wait()
	procs, err := cg.Procs()
	if err != nil || len(procs) != 0 {
		t.Fatalf("members after StartIn: %v %v", procs, err)
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
		if strings.Contains(string(b), name(t)) {
			t.Errorf("thread %s still in the group: %s", task.Name(), b)
		}
	}
}
