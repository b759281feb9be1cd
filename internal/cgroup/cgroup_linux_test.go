package cgroup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// unifiedRoot returns where the cgroup2 hierarchy is mounted.
func unifiedRoot(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			return f[4]
		}
	}
	kavachtest.Skip(t, "no cgroup2 hierarchy is mounted")
	return ""
}

// TestV2Lifecycle exercises the v2 code on whatever unified hierarchy the
// host mounts, also a hybrid host's controller-less one: a process born
// in the group with CLONE_INTO_CGROUP, freeze and thaw through
// cgroup.freeze, cgroup.kill and removal. A limit whose controller the
// hierarchy lacks is refused with the reason.
func TestV2Lifecycle(t *testing.T) {
	kavachtest.RequireRoot(t)
	h := cgroup.Host{Version: 2, Root: unifiedRoot(t)}
	ctrl, _ := os.ReadFile(filepath.Join(h.Root, "cgroup.controllers"))
	if !strings.Contains(string(ctrl), "memory") {
		_, err := cgroup.New(h, name(t)+"-mem", cgroup.Limits{MemoryBytes: 64 << 20})
		if !errors.Is(err, cgroup.ErrUnavailable) || !strings.Contains(err.Error(), "memory") {
			t.Errorf("memory limit without the memory controller: %v", err)
		}
	}
	cg, err := cgroup.New(h, name(t), cgroup.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Delete(context.Background()) })
	if cg.Version() != 2 || len(cg.Dirs()) != 1 {
		t.Fatalf("version %d, dirs %v", cg.Version(), cg.Dirs())
	}
	f, err := cg.FD()
	if err != nil {
		t.Fatal(err)
	}
	// A busy shell: a frozen group's CPU time stands still.
	cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	err = cmd.Start()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	if pids, err := cg.Procs(); err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("procs %v, %v; want %d born in the group", pids, err, cmd.Process.Pid)
	}
	cpu := func() int {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		return utime + stime
	}
	if err := cg.Freeze(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := cpu()
	time.Sleep(200 * time.Millisecond)
	if after := cpu(); after != before {
		t.Errorf("frozen member ran: CPU ticks %d → %d", before, after)
	}
	if err := cg.Thaw(t.Context()); err != nil {
		t.Fatal(err)
	}
	before = cpu()
	time.Sleep(200 * time.Millisecond)
	if after := cpu(); after == before {
		t.Errorf("thawed member did not run: CPU ticks stay %d", after)
	}
	if err := cg.Kill(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("killed member: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cgroup.kill did not kill the member")
	}
	if err := cg.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg.Dirs()[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group directory after Delete: %v", err)
	}
}
