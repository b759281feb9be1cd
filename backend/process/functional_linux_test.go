package process_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

var pathEnv = []string{"PATH=/usr/bin:/bin"}

func TestStrictRunsRealPrograms(t *testing.T) {
	b := requireBackend(t)
	kavachtest.RequireFile(t, "/usr/bin/python3")
	sb := create(t, b, policy.Strict())
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sh", []string{"/bin/sh", "-c", "x=$(echo hi | tr a-z A-Z); echo $x; ls / | head -1"}, "HI\nbin\n"},
		{"python3", []string{"python3", "-c", "import json, os, subprocess, hashlib; print(json.dumps(sum(range(10))), os.getcwd(), subprocess.run(['true']).returncode, hashlib.sha256(b'').hexdigest()[:8])"}, "45 /work 0 e3b0c442\n"},
		{"coreutils", []string{"sh", "-c", "seq 3 | sort -r | tr '\\n' ' '; date +%Y >/dev/null; stat -c %U /work; id -un"}, "3 2 1 sandbox\nsandbox\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, sb, pathEnv, tt.args...)
			if r.st.Code != 0 || r.stdout != tt.want {
				t.Errorf("%+v stdout %q stderr %q, want %q", r.st, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

// TestKillEndsTreeQuickly is the timeout path of the core: Kill ends the
// command and its daemonised grandchildren, and Wait returns promptly.
func TestKillEndsTreeQuickly(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
	out := &syncBuffer{}
	p, err := sb.Start(t.Context(), &backend.Command{
		Args:   []string{"sh", "-c", "setsid sleep 1000 & (sleep 1000 &) ; echo ready; sleep 1000"},
		Env:    pathEnv,
		Stdout: out, Stderr: &syncBuffer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	killed := time.Now()
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if took := time.Since(killed); took > 200*time.Millisecond {
		t.Errorf("Wait returned %v after Kill, want < 200ms", took)
	}
	if err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("killed: %+v, %v", st, err)
	}
	leftAfterKill(t, "TestKillEndsTreeQuickly")
}

func TestOOMReported(t *testing.T) {
	b := requireBackend(t)
	kavachtest.RequireFile(t, "/usr/bin/python3")
	p := policy.Strict()
	p.MemoryLimitMB = 48
	sb := create(t, b, p)
	r := run(t, sb, pathEnv, "python3", "-c", "b = bytearray(512 << 20); b[::4096] = b'x' * len(b[::4096]); print('survived')")
	if !r.st.OOM || r.st.Signal != syscall.SIGKILL || strings.Contains(r.stdout, "survived") {
		t.Errorf("memory hog: %+v stdout %q stderr %q; want OOM kill", r.st, r.stdout, r.stderr)
	}
	r = run(t, sb, pathEnv, "true")
	if r.st.OOM || r.st.Code != 0 {
		t.Errorf("next command reports %+v; the OOM belongs to the previous one", r.st)
	}
}

func TestForkBombContained(t *testing.T) {
	b := requireBackend(t)
	p := policy.Strict()
	p.MaxPids = 24
	sb := create(t, b, p)
	// Every fork past the limit fails with EAGAIN.
	r := run(t, sb, pathEnv, "python3", "-c", `
import os, time
n, err = 0, None
for i in range(60):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    n += 1
print(n, err)`)
	var n, errno int
	if _, err := fmt.Sscanf(r.stdout, "%d %d", &n, &errno); err != nil || n == 0 || n >= 24 || errno != int(syscall.EAGAIN) {
		t.Errorf("forks under max_pids 24: %q %q (want fewer than 24, then EAGAIN)", r.stdout, r.stderr)
	}
	// A real fork bomb, ended by Kill as the core's timeout does.
	out, errOut := &syncBuffer{}, &syncBuffer{}
	pr, err := sb.Start(t.Context(), &backend.Command{Args: []string{"sh", "-c", "echo go; b() { b | b & }; b; sleep 1000"}, Env: pathEnv, Stdout: out, Stderr: errOut})
	if err != nil {
		t.Fatalf("%v; stderr: %.2000s", err, errOut.String())
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "go") })
	time.Sleep(300 * time.Millisecond)
	if err := pr.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Wait(); err != nil {
		t.Fatal(err)
	}
	leftAfterKill(t, "TestForkBombContained")
}

func TestPauseFreezes(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
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
	if err := sb.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // output already in the pipe drains
	frozen := lines()
	time.Sleep(300 * time.Millisecond)
	if got := lines(); got != frozen {
		t.Errorf("counter advanced from %d to %d while paused", frozen, got)
	}
	if err := sb.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return lines() > frozen+3 })
}

// TestStopDuringStarts freezes and kills a sandbox while commands are
// being started in it: kavach briefly has a thread in the sandbox's
// cgroup while starting, and must neither freeze nor kill itself.
func TestStopDuringStarts(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := sb.Start(t.Context(), &backend.Command{Args: []string{"true"}, Env: pathEnv, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}})
				if err != nil {
					return // stopped
				}
				_, _ = p.Wait()
			}
		})
	}
	for range 10 {
		time.Sleep(10 * time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		if err := sb.Pause(ctx); err != nil {
			t.Errorf("pause: %v", err)
		}
		if err := sb.Resume(ctx); err != nil {
			t.Errorf("resume: %v", err)
		}
		cancel()
	}
	if err := sb.Stop(t.Context()); err != nil {
		t.Errorf("stop: %v", err)
	}
	close(stop)
	wg.Wait()
}

func TestSpecFilesAndMounts(t *testing.T) {
	b := requireBackend(t)
	data := hostDir(t, 0o777)
	ro := hostDir(t, 0o755)
	os.WriteFile(filepath.Join(ro, "in"), []byte("host data"), 0o644)
	p := policy.Strict()
	p.DataDir = data
	p.Mounts = []policy.Mount{{Source: ro, Target: "/mnt/in", ReadOnly: true}}
	files := []backend.File{{Path: "/run/secrets/token", Data: []byte("s3cret"), Mode: 0o400}}
	sb, err := b.Create(t.Context(), backend.Spec{ID: "files", Policy: p, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	// The caller may clear its copy once Create returns (kavach does, for
	// credentials); every later init still writes the file.
	clear(files[0].Data)
	for range 2 {
		if r := run(t, sb, pathEnv, "cat", "/run/secrets/token"); r.stdout != "s3cret" {
			t.Errorf("file after the caller cleared its copy: %q", r.stdout)
		}
	}
	r := run(t, sb, pathEnv, "sh", "-c", "cat /run/secrets/token; echo; stat -c '%a %U' /run/secrets/token; cat /mnt/in/in; echo; echo x > /mnt/in/new || echo ro-denied; echo d > "+data+"/out && echo data-ok")
	want := "s3cret\n400 sandbox\nhost data\nro-denied\ndata-ok\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, want, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "out")); err != nil {
		t.Errorf("data_dir write did not reach the host: %v", err)
	}
	if _, err := b.Create(t.Context(), backend.Spec{ID: "bad", Policy: p, Files: []backend.File{{Path: "/work/token", Data: []byte("x"), Mode: 0o400}}}); err == nil {
		t.Error("a file under the host-backed workdir was accepted")
	}
}

func TestPrepareHook(t *testing.T) {
	b := requireBackend(t)
	var mu sync.Mutex
	var seen []int
	cleaned := 0
	sb, err := b.Create(t.Context(), backend.Spec{ID: "prepare", Policy: policy.Strict(), Prepare: func(ctx context.Context, pid int) (func(), error) {
		// The namespaces exist: the pid's network namespace is not ours.
		own, _ := os.Readlink("/proc/self/ns/net")
		theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil || theirs == own {
			return nil, fmt.Errorf("pid %d net ns %q (ours %q): %v", pid, theirs, own, err)
		}
		mu.Lock()
		seen = append(seen, pid)
		mu.Unlock()
		return func() { mu.Lock(); cleaned++; mu.Unlock() }, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	r := run(t, sb, pathEnv, "true")
	mu.Lock()
	defer mu.Unlock()
	if r.st.Code != 0 || len(seen) != 1 || cleaned != 1 {
		t.Errorf("status %+v, prepare calls %v, cleanups %d", r.st, seen, cleaned)
	}
}

func TestRlimitFallback(t *testing.T) {
	b := requireBackend(t, process.WithoutCgroups())
	p := policy.Strict()
	if _, err := b.Plan(t.Context(), p); err == nil || !errorsIs(err, backend.ErrNotSupported) {
		t.Fatalf("limits without cgroups, strict: %v, want ErrNotSupported", err)
	}
	p.BestEffort = true
	sb := create(t, b, p)
	e := sb.Enforced()
	if !e.Rlimits || e.CgroupVersion != 0 || e.MemoryLimitMB != 0 || len(e.Downgrades) == 0 {
		t.Errorf("enforced %+v, want rlimits, no cgroup, downgrades listed", e)
	}
	r := run(t, sb, pathEnv, "sh", "-c", "grep -E 'Max (data size|processes|address space)' /proc/self/limits | tr -s ' '")
	want := fmt.Sprintf("Max data size %d %d bytes \nMax processes 64 64 processes \nMax address space unlimited unlimited bytes \n", 512<<20, 512<<20)
	if r.stdout != want {
		t.Errorf("rlimits inside: %q, want %q", r.stdout, want)
	}
	// The memory stand-in bounds what is allocated, not what is reserved:
	// a runtime may reserve 1 GiB of address space (as Go's and Java's
	// do), but not allocate 600 MiB under a 512 MiB limit.
	kavachtest.RequireFile(t, "/usr/bin/python3")
	r = run(t, sb, pathEnv, "python3", "-c", `import mmap
m = mmap.mmap(-1, 1 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0)  # PROT_NONE
print("reserved")
try:
    b = bytearray(600 << 20)
    print("allocated")
except MemoryError:
    print("refused")`)
	if r.stdout != "reserved\nrefused\n" {
		t.Errorf("memory rlimit: stdout %q stderr %q, want a 1 GiB reservation kept and a 600 MiB allocation refused", r.stdout, r.stderr)
	}
	if err := sb.Pause(t.Context()); !errorsIs(err, backend.ErrNotSupported) {
		t.Errorf("pause without a cgroup: %v", err)
	}
}

// hostDir makes a host directory the sandbox's unprivileged host uid can
// reach (t.TempDir's parent is closed to it).
func hostDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kavach-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sandboxProcs counts host processes that run as the sandbox's host uids
// in cgroups named with prefix (other programs on the host, such as
// kavach's own CLI tests, may run sandboxes at the same time).
func sandboxProcs(t *testing.T, prefix string) int {
	t.Helper()
	return sandboxProcsAs(t, prefix, process.HostIDBase, process.HostIDBase+process.SandboxUID)
}

// leftAfterKill checks what is left of the sandbox prefix after its
// command was killed: no process of the command, and at most one init,
// the sandbox's spare waiting for the next command.
func leftAfterKill(t *testing.T, prefix string) {
	t.Helper()
	if n := sandboxProcsAs(t, prefix, process.HostIDBase+process.SandboxUID); n != 0 {
		t.Errorf("%d command processes left on the host after Kill", n)
	}
	if n := sandboxProcsAs(t, prefix, process.HostIDBase); n > 1 {
		t.Errorf("%d inits left on the host after Kill, want at most the spare", n)
	}
}

// sandboxProcsAs counts the host's processes in cgroups named prefix
// whose owner is one of uids.
func sandboxProcsAs(t *testing.T, prefix string, uids ...uint32) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		var st syscall.Stat_t
		if e.Name()[0] < '0' || e.Name()[0] > '9' || syscall.Stat("/proc/"+e.Name(), &st) != nil {
			continue
		}
		if !slices.Contains(uids, st.Uid) {
			continue
		}
		cg, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if err == nil && strings.Contains(string(cg), "/"+cgroup.ParentName+"/"+prefix) {
			n++
		}
	}
	return n
}
