// Package backendtest is the conformance suite every backend must pass.
//
// A backend's test calls Run with the features it claims; the suite
// checks exit codes, output, stdin, signals, kill and timeout of the whole
// process tree, a clean environment, no leaked descriptors, network off,
// read-only root and an honest Enforced. Backends that run no command
// (noop) get only the lifecycle checks.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// Options say what the backend under test claims.
type Options struct {
	// RunsCommands is false for backends that run nothing (noop).
	RunsCommands bool
	// Policy is the base policy of the sandboxes (default policy.Basic()).
	Policy *policy.Policy
	// Shell is a POSIX shell inside the sandbox (default /bin/sh).
	Shell string
	// PauseUnsupported says the kind cannot freeze a running command, so
	// Pause and Resume must fail with an error wrapping
	// backend.ErrNotSupported rather than pretend (wasm: wazero cannot
	// suspend a running module).
	PauseUnsupported bool
}

// Run runs the suite against b as subtests of t.
func Run(t *testing.T, b backend.Backend, opts Options) {
	t.Helper()
	if err := b.Available(t.Context()); err != nil {
		t.Fatalf("backend %s not available: %v", b.Kind(), err)
	}
	if opts.Shell == "" {
		opts.Shell = "/bin/sh"
	}
	base := policy.Basic()
	if opts.Policy != nil {
		base = opts.Policy.Clone()
	}
	s := &suite{b: b, opts: opts, base: base}
	t.Run("Lifecycle", s.lifecycle)
	if !opts.RunsCommands {
		return
	}
	t.Run("ExitCode", s.exitCode)
	t.Run("Output", s.output)
	t.Run("Stdin", s.stdin)
	t.Run("Signaled", s.signaled)
	t.Run("KillTree", s.killTree)
	t.Run("Grandchildren", s.grandchildren)
	t.Run("CleanEnv", s.cleanEnv)
	t.Run("NoLeakedFDs", s.noLeakedFDs)
	t.Run("NetworkOff", s.networkOff)
	t.Run("ReadOnlyRoot", s.readOnlyRoot)
	t.Run("LargeOutput", s.largeOutput)
}

type suite struct {
	b    backend.Backend
	opts Options
	base policy.Policy
}

func (s *suite) create(t *testing.T, p policy.Policy) backend.Sandbox {
	t.Helper()
	sb, err := s.b.Create(t.Context(), backend.Spec{ID: "conformance-" + strings.ReplaceAll(t.Name(), "/", "-"), Policy: p})
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

// syncBuffer is safe for the goroutines that write a command's output.
type syncBuffer = kavachtest.SyncBuffer

type run struct {
	status         backend.ExitStatus
	stdout, stderr string
}

func (s *suite) run(t *testing.T, sb backend.Sandbox, stdin []byte, args ...string) run {
	t.Helper()
	var out, errb syncBuffer
	cmd := &backend.Command{Args: args, Env: []string{"PATH=/usr/bin:/bin", "KAVACH_CONFORMANCE=1"}, Stdout: &out, Stderr: &errb}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	p, err := sb.Start(t.Context(), cmd)
	if err != nil {
		t.Fatalf("start %q: %v", args, err)
	}
	st := waitWithin(t, p, 30*time.Second)
	return run{st, out.String(), errb.String()}
}

func waitWithin(t *testing.T, p backend.Proc, d time.Duration) backend.ExitStatus {
	t.Helper()
	type res struct {
		st  backend.ExitStatus
		err error
	}
	ch := make(chan res, 1)
	go func() { st, err := p.Wait(); ch <- res{st, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("wait: %v", r.err)
		}
		return r.st
	case <-time.After(d):
		_ = p.Kill()
		t.Fatalf("process still running after %v", d)
	}
	return backend.ExitStatus{}
}

func (s *suite) lifecycle(t *testing.T) {
	sb := s.create(t, s.base)
	if got := sb.Enforced().Backend; got != s.b.Kind() {
		t.Errorf("Enforced().Backend = %s, want %s", got, s.b.Kind())
	}
	plan, err := s.b.Plan(t.Context(), s.base)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if got, want := sb.Enforced().Score().Value, plan.Score().Value; got != want {
		t.Errorf("created sandbox scores %d, its plan %d", got, want)
	}
	if s.opts.PauseUnsupported {
		if err := sb.Pause(t.Context()); !errors.Is(err, backend.ErrNotSupported) {
			t.Errorf("pause = %v, want ErrNotSupported", err)
		}
		if err := sb.Resume(t.Context()); !errors.Is(err, backend.ErrNotSupported) {
			t.Errorf("resume = %v, want ErrNotSupported", err)
		}
	} else {
		if err := sb.Pause(t.Context()); err != nil {
			t.Errorf("pause: %v", err)
		}
		if err := sb.Resume(t.Context()); err != nil {
			t.Errorf("resume: %v", err)
		}
	}
	if err := sb.Stop(t.Context()); err != nil {
		t.Errorf("stop: %v", err)
	}
	for i := range 2 {
		if err := sb.Destroy(t.Context()); err != nil {
			t.Errorf("destroy #%d: %v", i+1, err)
		}
	}
	if _, err := sb.Start(t.Context(), &backend.Command{Args: []string{"true"}, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}}); !errors.Is(err, backend.ErrDestroyed) {
		t.Errorf("start after destroy = %v, want ErrDestroyed", err)
	}
}

func (s *suite) exitCode(t *testing.T) {
	sb := s.create(t, s.base)
	for _, code := range []int{0, 1, 3, 127} {
		r := s.run(t, sb, nil, s.opts.Shell, "-c", "exit "+strconv.Itoa(code))
		if r.status.Code != code || r.status.Signal != 0 {
			t.Errorf("exit %d: got %+v", code, r.status)
		}
	}
}

func (s *suite) output(t *testing.T) {
	sb := s.create(t, s.base)
	r := s.run(t, sb, nil, s.opts.Shell, "-c", "echo out; echo err >&2")
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func (s *suite) stdin(t *testing.T) {
	sb := s.create(t, s.base)
	r := s.run(t, sb, []byte("hello stdin"), "cat")
	if r.stdout != "hello stdin" {
		t.Errorf("cat of stdin = %q", r.stdout)
	}
	r = s.run(t, sb, nil, "cat")
	if r.stdout != "" || r.status.Code != 0 {
		t.Errorf("cat without stdin = %q, %+v (want empty: stdin is /dev/null)", r.stdout, r.status)
	}
}

func (s *suite) signaled(t *testing.T) {
	sb := s.create(t, s.base)
	r := s.run(t, sb, nil, s.opts.Shell, "-c", "kill -9 $$")
	if r.status.Signal != syscall.SIGKILL {
		t.Errorf("self-kill: %+v", r.status)
	}
}

func (s *suite) killTree(t *testing.T) {
	sb := s.create(t, s.base)
	out := &syncBuffer{}
	p, err := sb.Start(t.Context(), &backend.Command{
		Args: []string{s.opts.Shell, "-c", "sleep 1000 & sleep 1000 & echo ready; wait"},
		Env:  []string{"PATH=/usr/bin:/bin"}, Stdout: out, Stderr: &syncBuffer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "ready") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	st := waitWithin(t, p, 5*time.Second)
	if st.Signal == 0 {
		t.Errorf("killed process reports %+v", st)
	}
	if err := p.Kill(); err != nil {
		t.Errorf("second kill: %v", err)
	}
}

func (s *suite) grandchildren(t *testing.T) {
	sb := s.create(t, s.base)
	// The shell exits at once; the daemonised sleep keeps stdout open. Wait
	// must not hang on it: the backend ends the command's whole tree.
	r := s.run(t, sb, nil, s.opts.Shell, "-c", "setsid sleep 1000 & echo started")
	if r.stdout != "started\n" || r.status.Code != 0 {
		t.Errorf("got %+v %q", r.status, r.stdout)
	}
}

func (s *suite) cleanEnv(t *testing.T) {
	t.Setenv("KAVACH_HOST_ONLY", "must-not-leak")
	sb := s.create(t, s.base)
	r := s.run(t, sb, nil, "env")
	got := strings.Fields(r.stdout)
	slices.Sort(got)
	if strings.Contains(r.stdout, "must-not-leak") {
		t.Errorf("host environment leaked: %q", r.stdout)
	}
	for _, want := range []string{"KAVACH_CONFORMANCE=1", "PATH=/usr/bin:/bin"} {
		if !slices.Contains(got, want) {
			t.Errorf("env lacks %s: %q", want, got)
		}
	}
}

func (s *suite) noLeakedFDs(t *testing.T) {
	f, err := os.Open(os.DevNull) // a host descriptor that must not be inherited
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := s.create(t, s.base)
	r := s.run(t, sb, nil, "ls", "/proc/self/fd")
	fds := strings.Fields(r.stdout)
	// ls itself holds one descriptor open on the directory it lists.
	if len(fds) > 4 || !slices.Equal(fds[:min(3, len(fds))], []string{"0", "1", "2"}) {
		t.Errorf("descriptors in the sandbox: %v (want 0 1 2 and ls's own)", fds)
	}
}

func (s *suite) networkOff(t *testing.T) {
	p := s.base.Clone()
	p.Network = policy.Network{}
	sb := s.create(t, p)
	r := s.run(t, sb, nil, "cat", "/proc/net/dev")
	var ifaces []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if !slices.Equal(ifaces, []string{"lo"}) {
		t.Errorf("interfaces with network off: %v (want only lo; /proc/net/dev: %q)", ifaces, r.stdout)
	}
	if got := sb.Enforced().Network; got != backend.NetworkNone {
		t.Errorf("Enforced().Network = %q, want %q", got, backend.NetworkNone)
	}
}

func (s *suite) readOnlyRoot(t *testing.T) {
	p := s.base.Clone()
	p.ReadOnlyRootfs = true
	sb := s.create(t, p)
	if !sb.Enforced().ReadOnlyRoot {
		t.Fatalf("read-only root asked, Enforced says %+v", sb.Enforced())
	}
	r := s.run(t, sb, nil, s.opts.Shell, "-c", "echo x > /usr/kavach-conformance; echo rc=$?; echo y > /tmp/ok && echo tmp-ok; echo z > ./wd-ok && echo wd-ok")
	if !strings.Contains(r.stdout, "tmp-ok") || !strings.Contains(r.stdout, "wd-ok") || strings.Contains(r.stdout, "rc=0") {
		t.Errorf("read-only root: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if _, err := os.Stat("/usr/kavach-conformance"); err == nil {
		t.Errorf("the sandbox wrote to the host's /usr")
		_ = os.Remove("/usr/kavach-conformance")
	}
}

func (s *suite) largeOutput(t *testing.T) {
	sb := s.create(t, s.base)
	// 8 MiB through a writer that only counts: the backend must not lose
	// or block on it.
	var n countWriter
	p, err := sb.Start(t.Context(), &backend.Command{
		Args: []string{"head", "-c", "8388608", "/dev/zero"}, Env: []string{"PATH=/usr/bin:/bin"},
		Stdout: &n, Stderr: &syncBuffer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := waitWithin(t, p, 30*time.Second)
	if st.Code != 0 || n.Load() != 8<<20 {
		t.Errorf("8 MiB of output: status %+v, got %d bytes", st, n.Load())
	}
}

type countWriter struct {
	mu sync.Mutex
	n  int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(p)
	return len(p), nil
}

func (c *countWriter) Load() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
