package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/wasm"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

var (
	probeOnce sync.Once
	probePath string
	probeErr  error
	probeDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if probeDir != "" {
		_ = os.RemoveAll(probeDir)
	}
	os.Exit(code)
}

// probe builds testdata/probe for wasip1 with the Go toolchain once per
// test binary (the Go build cache makes later binaries fast) and returns
// the module's path.
func probe(t testing.TB) string {
	t.Helper()
	goBin := kavachtest.RequireBinary(t, "go")
	probeOnce.Do(func() {
		probeDir, probeErr = os.MkdirTemp("", "kavach-wasm-probe-")
		if probeErr != nil {
			return
		}
		probePath = filepath.Join(probeDir, "probe.wasm")
		cmd := exec.Command(goBin, "build", "-o", probePath, ".")
		cmd.Dir = filepath.Join("testdata", "probe")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = errors.New("go build probe.wasm: " + err.Error() + ": " + string(out))
		}
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probePath
}

// newBackend returns a backend whose disk cache lives in a directory
// shared by the tests of this binary, so only the first test compiles.
func newBackend(t testing.TB) *wasm.Backend {
	t.Helper()
	probe(t)
	return wasm.New(wasm.WithCacheDir(filepath.Join(probeDir, "cache")))
}

type result struct {
	st             backend.ExitStatus
	stdout, stderr string
}

func run(t *testing.T, sb backend.Sandbox, stdin []byte, env []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := &backend.Command{Args: args, Env: env, Stdout: &out, Stderr: &errb}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	p, err := sb.Start(t.Context(), cmd)
	if err != nil {
		t.Fatalf("start %q: %v", args, err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return result{st, out.String(), errb.String()}
}

func create(t *testing.T, b backend.Backend, spec backend.Spec) backend.Sandbox {
	t.Helper()
	sb, err := b.Create(t.Context(), spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return sb
}

func TestConformance(t *testing.T) {
	// The suite's command checks run a POSIX shell and coreutils, which a
	// wasm sandbox does not have; TestRun covers the same ground with the
	// probe module.
	backendtest.Run(t, newBackend(t), backendtest.Options{PauseUnsupported: true})
}

func TestRun(t *testing.T) {
	b := newBackend(t)
	mod := probe(t)
	sb := create(t, b, backend.Spec{ID: "run", Policy: policy.Basic()})
	tests := []struct {
		name       string
		args       []string
		env        []string
		stdin      []byte
		wantCode   int
		wantOut    string
		wantErrSub string
	}{
		{name: "output", args: []string{mod, "echo", "a b", "c"}, wantOut: "a b\nc\n", wantErrSub: "err\n"},
		{name: "argv", args: []string{mod, "args", "x"}, wantOut: `["` + mod + `" "args" "x"]` + "\n"},
		{name: "exit0", args: []string{mod, "exit", "0"}},
		{name: "exit3", args: []string{mod, "exit", "3"}, wantCode: 3},
		{name: "exit127", args: []string{mod, "exit", "127"}, wantCode: 127},
		{name: "stdin", args: []string{mod, "cat"}, stdin: []byte("hello stdin"), wantOut: "hello stdin"},
		{name: "no stdin", args: []string{mod, "cat"}},
		{name: "env", args: []string{mod, "env"}, env: []string{"A=1", "B=x=y"}, wantOut: "A=1\nB=x=y\n"},
		{name: "no host env", args: []string{mod, "env"}},
		{name: "no host fs", args: []string{mod, "ls", "/"}, wantCode: 1, wantErrSub: "open /"},
	}
	t.Setenv("KAVACH_HOST_ONLY", "must-not-leak")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, sb, tc.stdin, tc.env, tc.args...)
			if r.st.Code != tc.wantCode || r.st.Signal != 0 {
				t.Errorf("status %+v, want code %d (stderr %q)", r.st, tc.wantCode, r.stderr)
			}
			if r.stdout != tc.wantOut {
				t.Errorf("stdout %q, want %q", r.stdout, tc.wantOut)
			}
			if !strings.Contains(r.stderr, tc.wantErrSub) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tc.wantErrSub)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	b := newBackend(t)
	sb := create(t, b, backend.Spec{ID: "errors"})
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"missing", []string{filepath.Join(t.TempDir(), "none.wasm")}, os.ErrNotExist},
		{"not wasm", []string{notWasm}, os.ErrPermission},
		{"empty", nil, wasm.ErrNotWasm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sb.Start(t.Context(), &backend.Command{Args: tc.args, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
			if !errors.Is(err, tc.want) {
				t.Errorf("start = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	b := newBackend(t)
	mod := probe(t)
	p := policy.Basic()
	p.MemoryLimitMB = 32
	sb := create(t, b, backend.Spec{ID: "mem", Policy: p})
	if got := sb.Enforced().MemoryLimitMB; got != 32 {
		t.Errorf("Enforced().MemoryLimitMB = %d", got)
	}
	if r := run(t, sb, nil, nil, mod, "alloc", "8"); r.st.Code != 0 || r.stdout != "allocated 8\n" {
		t.Errorf("8 MiB under a 32 MiB cap: %+v %q %q", r.st, r.stdout, r.stderr)
	}
	// Go's runtime dies with "out of memory" (exit 2) when memory.grow
	// fails at the cap.
	r := run(t, sb, nil, nil, mod, "alloc", "100")
	if r.st.Code == 0 || strings.Contains(r.stdout, "allocated") {
		t.Errorf("100 MiB under a 32 MiB cap: %+v %q", r.st, r.stdout)
	}
	if !strings.Contains(r.stderr, "out of memory") {
		t.Errorf("stderr %q, want out of memory", lastLines(r.stderr))
	}
}

func lastLines(s string) string {
	if len(s) > 300 {
		return "..." + s[len(s)-300:]
	}
	return s
}

func TestTimeoutAndKill(t *testing.T) {
	b := newBackend(t)
	mod := probe(t)
	p := policy.Basic()
	p.TimeoutMS = 300
	sb := create(t, b, backend.Spec{ID: "timeout", Policy: p})
	for _, mode := range []string{"spin", "sleep"} {
		t.Run("timeout "+mode, func(t *testing.T) {
			start := time.Now()
			r := run(t, sb, nil, nil, mod, mode, "1h")
			if r.st.Signal != syscall.SIGKILL {
				t.Errorf("status %+v, want SIGKILL", r.st)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("timeout of 300ms took %v", d)
			}
		})
	}

	sb2 := create(t, b, backend.Spec{ID: "kill", Policy: policy.Basic()})
	for _, tc := range []struct {
		mode string
		sig  syscall.Signal
	}{{"spin", syscall.SIGKILL}, {"sleep", syscall.SIGTERM}, {"cat", syscall.SIGKILL}} {
		t.Run("kill "+tc.mode, func(t *testing.T) {
			out := &syncBuffer{}
			pr, pw := io.Pipe()
			defer pw.Close()
			cmd := &backend.Command{Args: []string{mod, tc.mode, "1h"}, Stdin: pr, Stdout: out, Stderr: &syncBuffer{}}
			proc, err := sb2.Start(t.Context(), cmd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mode != "cat" {
				waitFor(t, out, "ing\n")
			}
			if err := proc.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan backend.ExitStatus, 1)
			go func() { st, _ := proc.Wait(); done <- st }()
			select {
			case st := <-done:
				if st.Signal != tc.sig {
					t.Errorf("status %+v, want %v", st, tc.sig)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("module still running 10s after kill")
			}
			if err := proc.Kill(); err != nil {
				t.Errorf("second kill: %v", err)
			}
		})
	}
}

func TestDestroyKillsRunning(t *testing.T) {
	b := newBackend(t)
	mod := probe(t)
	sb, err := b.Create(t.Context(), backend.Spec{ID: "destroy"})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	proc, err := sb.Start(t.Context(), &backend.Command{Args: []string{mod, "spin"}, Stdout: out, Stderr: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "spinning\n")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := proc.Wait(); st.Signal != syscall.SIGKILL {
		t.Errorf("status after destroy %+v", st)
	}
	if _, err := sb.Start(t.Context(), &backend.Command{Args: []string{mod, "exit", "0"}, Stdout: out, Stderr: out}); !errors.Is(err, backend.ErrDestroyed) {
		t.Errorf("start after destroy: %v", err)
	}
}

func TestPreopens(t *testing.T) {
	b := newBackend(t)
	mod := probe(t)
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The module itself is reached through a mount.
	modDir := filepath.Dir(mod)
	p := policy.Basic()
	p.Mounts = []policy.Mount{
		{Source: ro, Target: "/in", ReadOnly: true},
		{Source: rw, Target: "/out"},
		{Source: modDir, Target: "/bin", ReadOnly: true},
	}
	sb := create(t, b, backend.Spec{ID: "preopen", Policy: p})
	guestMod := "/bin/" + filepath.Base(mod)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"read ro", []string{guestMod, "read", "/in/in.txt"}, 0, "from host"},
		{"write ro refused", []string{guestMod, "write", "/in/new.txt", "x"}, 1, ""},
		{"write rw", []string{guestMod, "write", "/out/new.txt", "written by wasm"}, 0, "written\n"},
		{"outside mounts", []string{guestMod, "read", "/etc/passwd"}, 1, ""},
		{"escape by dotdot", []string{guestMod, "read", "/in/../../../../etc/passwd"}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, sb, nil, nil, tc.args...)
			if r.st.Code != tc.wantCode || r.stdout != tc.wantOut {
				t.Errorf("got %+v %q (stderr %q), want code %d %q", r.st, r.stdout, r.stderr, tc.wantCode, tc.wantOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(ro, "new.txt")); err == nil {
		t.Error("the module wrote to a read-only mount")
	}
	if got, err := os.ReadFile(filepath.Join(rw, "new.txt")); err != nil || string(got) != "written by wasm" {
		t.Errorf("rw mount on the host: %q, %v", got, err)
	}
}

func TestPlan(t *testing.T) {
	b := wasm.New(wasm.WithCacheDir(""))
	tests := []struct {
		name      string
		p         policy.Policy
		wantScore int
		wantErr   error
	}{
		// 65 base + 5 network off + 3 read-only root; seccomp cannot apply.
		{"basic", policy.Basic(), 73, nil},
		// + 2 for the memory cap.
		{"strict", policy.Strict(), 75, nil},
		{"cpu below one", policy.Policy{CPULimit: 0.5}, 0, backend.ErrNotSupported},
		{"cpu below one best effort", policy.Policy{CPULimit: 0.5, BestEffort: true}, 75, nil},
		{"network allowed", policy.Policy{Network: policy.Network{Enabled: true}}, 73, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := b.Plan(t.Context(), tc.p)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("plan error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := e.Score().Value; got != tc.wantScore {
				t.Errorf("score %d, want %d (%+v)", got, tc.wantScore, e.Score().Reasons)
			}
			if e.Seccomp != "" || e.Network != backend.NetworkNone {
				t.Errorf("enforced %+v", e)
			}
		})
	}
}

// TestCompileCache checks the on-disk cache: once a module has run, its
// compiled form is in the cache directory, and a new Backend over the same
// directory (a new process, in real use) runs the module from it without
// writing anything new. BenchmarkExec and BenchmarkColdStart show what it
// saves.
func TestCompileCache(t *testing.T) {
	mod := probe(t)
	dir := filepath.Join(probeDir, "cache")
	runOnce := func() {
		b := wasm.New(wasm.WithCacheDir(dir))
		sb, err := b.Create(t.Context(), backend.Spec{ID: "cache"})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Destroy(context.Background())
		if r := run(t, sb, nil, nil, mod, "exit", "0"); r.st.Code != 0 {
			t.Fatalf("status %+v", r.st)
		}
	}
	runOnce()
	files := func() map[string]time.Time {
		m := map[string]time.Time{}
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					m[p] = fi.ModTime()
				}
			}
			return nil
		})
		return m
	}
	before := files()
	if len(before) == 0 {
		t.Fatalf("no compiled module cached in %s", dir)
	}
	runOnce()
	after := files()
	if len(after) != len(before) {
		t.Errorf("second run wrote to the cache: %d files before, %d after", len(before), len(after))
	}
	for p, mt := range before {
		if !after[p].Equal(mt) {
			t.Errorf("%s rewritten by the second run", p)
		}
	}
}

// BenchmarkColdStart measures starting the probe module with an empty
// cache: the compilation the cache saves.
func BenchmarkColdStart(b *testing.B) {
	mod := probe(b)
	for b.Loop() {
		bk := wasm.New(wasm.WithCacheDir(""))
		sb, err := bk.Create(b.Context(), backend.Spec{ID: "bench-cold"})
		if err != nil {
			b.Fatal(err)
		}
		p, err := sb.Start(b.Context(), &backend.Command{Args: []string{mod, "exit", "0"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		if err != nil {
			b.Fatal(err)
		}
		if st, _ := p.Wait(); st.Code != 0 {
			b.Fatalf("status %+v", st)
		}
		_ = sb.Destroy(context.Background())
	}
}

func BenchmarkExec(b *testing.B) {
	bk := newBackend(b)
	mod := probe(b)
	sb, err := bk.Create(b.Context(), backend.Spec{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	for b.Loop() {
		p, err := sb.Start(b.Context(), &backend.Command{Args: []string{mod, "exit", "0"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		if err != nil {
			b.Fatal(err)
		}
		if st, _ := p.Wait(); st.Code != 0 {
			b.Fatalf("status %+v", st)
		}
	}
}

// syncBuffer is safe for the goroutines that write a command's output.
type syncBuffer = kavachtest.SyncBuffer

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q never contained %q", b.String(), s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
