package kavach

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
)

func newTestSandbox(t *testing.T, mutate func(*Config)) (*Sandbox, *hostBackend) {
	t.Helper()
	hb := newHostBackend(backend.Process)
	cfg := Config{Policy: policy.Basic(), Backends: []backend.Backend{hb}}
	if mutate != nil {
		mutate(&cfg)
	}
	sb, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Destroy(context.Background()) })
	return sb, hb
}

// moveTo drives a fresh sandbox into state st through allowed transitions.
func moveTo(t *testing.T, sb *Sandbox, st State) {
	t.Helper()
	path := map[State][]State{
		Created:   nil,
		Running:   {Running},
		Paused:    {Running, Paused},
		Stopped:   {Running, Stopped},
		Destroyed: {Destroyed},
	}[st]
	for _, s := range path {
		if err := sb.Transition(t.Context(), s); err != nil {
			t.Fatalf("setup %s: %v", s, err)
		}
	}
}

func TestTransitionAllPairs(t *testing.T) {
	allowed := map[[2]State]bool{
		{Created, Running}: true, {Created, Destroyed}: true,
		{Running, Paused}: true, {Running, Stopped}: true, {Running, Destroyed}: true,
		{Paused, Running}: true, {Paused, Stopped}: true, {Paused, Destroyed}: true,
		{Stopped, Destroyed}: true,
	}
	n := 0
	for _, from := range States() {
		for _, to := range States() {
			n++
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				want := allowed[[2]State{from, to}]
				if got := CanTransition(from, to); got != want {
					t.Fatalf("CanTransition = %v, want %v", got, want)
				}
				sb, _ := newTestSandbox(t, nil)
				moveTo(t, sb, from)
				err := sb.Transition(t.Context(), to)
				if want {
					if err != nil {
						t.Fatalf("allowed transition failed: %v", err)
					}
					if sb.State() != to {
						t.Fatalf("state = %s, want %s", sb.State(), to)
					}
					return
				}
				var te *TransitionError
				if !errors.As(err, &te) || !errors.Is(err, ErrInvalidTransition) || te.From != from || te.To != to {
					t.Fatalf("forbidden transition: err = %v", err)
				}
				wantMsg := "lifecycle error: " + from.String() + " -> " + to.String() + ": invalid state transition"
				if err.Error() != wantMsg {
					t.Errorf("message %q, want %q", err, wantMsg)
				}
				if sb.State() != from {
					t.Errorf("state changed to %s by a refused transition", sb.State())
				}
			})
		}
	}
	if n != 25 {
		t.Fatalf("covered %d pairs, want 25", n)
	}
}

func TestTransitionsCallBackend(t *testing.T) {
	sb, hb := newTestSandbox(t, nil)
	ctx := t.Context()
	for _, step := range []func(context.Context) error{sb.Start, sb.Pause, sb.Resume, sb.Stop, sb.Destroy, sb.Destroy} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"create", "pause", "resume", "stop", "destroy"}
	if got := hb.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("backend calls %v, want %v (Destroy twice must reach the backend once)", got, want)
	}
	created, started, stopped := sb.Times()
	if created.IsZero() || started.IsZero() || stopped.IsZero() {
		t.Errorf("times not recorded: %v %v %v", created, started, stopped)
	}
}

func TestDestroyNeverStarted(t *testing.T) {
	sb, hb := newTestSandbox(t, nil)
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatalf("destroying a created sandbox: %v", err)
	}
	if len(hb.Calls()) != 0 {
		t.Errorf("backend touched: %v", hb.Calls())
	}
}

func TestBackendFailureKeepsState(t *testing.T) {
	sb, hb := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	hb.fail["pause"] = errors.New("freezer broken")
	if err := sb.Pause(t.Context()); err == nil || !strings.Contains(err.Error(), "freezer broken") {
		t.Fatalf("pause error = %v", err)
	}
	if sb.State() != Running {
		t.Errorf("state = %s after failed pause, want running", sb.State())
	}
}

func TestCreateUnavailable(t *testing.T) {
	hb := newHostBackend(backend.GVisor)
	hb.unavailable = backend.Unavailable(backend.GVisor, "runsc not found on PATH")
	_, err := Create(t.Context(), Config{Backend: backend.GVisor, Backends: []backend.Backend{hb}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "runsc not found on PATH") {
		t.Fatalf("err = %v", err)
	}
	_, err = Create(t.Context(), Config{Backend: backend.Firecracker, Backends: []backend.Backend{hb}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("missing kind: %v", err)
	}
	_, err = Create(t.Context(), Config{Policy: policy.Policy{SeccompProfile: "x"}, Backends: []backend.Backend{hb}})
	if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestExec(t *testing.T) {
	sb, _ := newTestSandbox(t, func(c *Config) { c.Env = []string{"FROM_CONFIG=1"} })
	ctx := t.Context()
	if _, err := sb.Exec(ctx, Shell("true")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("exec before start: %v", err)
	}
	moveTo(t, sb, Running)
	t.Setenv("KAVACH_HOST_SECRET", "leak")
	res, err := sb.Exec(ctx, Command{Args: []string{"/bin/sh", "-c", "cat; echo err >&2; env; exit 3"}, Input: []byte("in\n"), Env: []string{"FROM_CMD=2"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Termination != TerminationExited {
		t.Errorf("exit %d %s", res.ExitCode, res.Termination)
	}
	out := string(res.Stdout)
	for _, want := range []string{"in\n", "FROM_CONFIG=1", "FROM_CMD=2", "PATH=/usr/local/sbin", "HOME=/tmp", "LANG=C.UTF-8"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q: %q", want, out)
		}
	}
	if strings.Contains(out, "KAVACH_HOST_SECRET") {
		t.Errorf("host env leaked into the command")
	}
	if string(res.Stderr) != "err\n" {
		t.Errorf("stderr %q", res.Stderr)
	}
	if res.Enforced.Backend != backend.Process || res.Score.Label == "" {
		t.Errorf("result lacks enforced/score: %+v %+v", res.Enforced, res.Score)
	}
	for _, bad := range []Command{{}, {Args: []string{""}}, {Args: []string{"true"}, Env: []string{"NOEQUALS"}}} {
		if _, err := sb.Exec(ctx, bad); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("Exec(%+v) = %v, want ErrInvalidCommand", bad, err)
		}
	}
}

func TestExecSignaled(t *testing.T) {
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	res, err := sb.Exec(t.Context(), Shell("kill -TERM $$"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Termination != TerminationSignaled || res.Signal != syscall.SIGTERM || res.ExitCode != -1 {
		t.Errorf("got %+v", res)
	}
}

func TestExecOutputBounded(t *testing.T) {
	sb, _ := newTestSandbox(t, func(c *Config) { c.MaxOutput = 1000 })
	moveTo(t, sb, Running)
	// 16 MiB on each stream: far more than a pipe holds, so a reader that
	// stopped reading would block the command.
	res, err := sb.Exec(t.Context(), Shell("head -c 16777216 /dev/zero; head -c 16777216 /dev/zero >&2; echo done"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != 1000 || len(res.Stderr) != 1000 || !res.Truncated || res.ExitCode != 0 {
		t.Errorf("stdout %d stderr %d truncated %v exit %d", len(res.Stdout), len(res.Stderr), res.Truncated, res.ExitCode)
	}
	res, err = sb.Exec(t.Context(), Shell("printf 12345"))
	if err != nil || string(res.Stdout) != "12345" || res.Truncated {
		t.Errorf("small output: %q truncated=%v err=%v", res.Stdout, res.Truncated, err)
	}
}

func TestExecTimeout(t *testing.T) {
	sb, _ := newTestSandbox(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	moveTo(t, sb, Running)
	res, err := sb.Exec(t.Context(), Shell("echo before; sleep 30"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Termination != TerminationTimeout || res.ExitCode != -1 || string(res.Stdout) != "before\n" {
		t.Errorf("got %+v (stdout %q)", res, res.Stdout)
	}
	if res.Duration > 10*time.Second {
		t.Errorf("timeout took %v", res.Duration)
	}
}

func TestExecPolicyTimeoutShortens(t *testing.T) {
	sb, _ := newTestSandbox(t, func(c *Config) { c.Policy.TimeoutMS = 100 })
	moveTo(t, sb, Running)
	res, err := sb.Exec(t.Context(), Shell("sleep 30"))
	if err != nil || res.Termination != TerminationTimeout {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestExecContext(t *testing.T) {
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	res, err := sb.Exec(ctx, Shell("sleep 30"))
	if !errors.Is(err, context.Canceled) || res == nil || res.Termination != TerminationKilled {
		t.Fatalf("cancel: res %+v err %v", res, err)
	}
	dctx, dcancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer dcancel()
	res, err = sb.Exec(dctx, Shell("sleep 30"))
	if !errors.Is(err, context.DeadlineExceeded) || res == nil || res.Termination != TerminationTimeout {
		t.Fatalf("deadline: res %+v err %v", res, err)
	}
}

func TestStopAndDestroyKillRunningExecs(t *testing.T) {
	for _, end := range []State{Stopped, Destroyed} {
		t.Run(end.String(), func(t *testing.T) {
			sb, _ := newTestSandbox(t, nil)
			moveTo(t, sb, Running)
			done := make(chan *Result)
			go func() {
				res, _ := sb.Exec(context.Background(), Shell("sleep 30"))
				done <- res
			}()
			waitRunning(t, sb)
			if err := sb.Transition(t.Context(), end); err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-done:
				if res.Termination != TerminationKilled {
					t.Errorf("termination %s", res.Termination)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("exec survived")
			}
			if _, err := sb.Exec(t.Context(), Shell("true")); !errors.Is(err, ErrNotRunning) {
				t.Errorf("exec after %s: %v", end, err)
			}
		})
	}
}

func waitRunning(t *testing.T, sb *Sandbox) {
	t.Helper()
	for range 1000 {
		sb.mu.Lock()
		n := len(sb.running)
		sb.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("exec never started")
}

func TestSpawnStreams(t *testing.T) {
	sb, _ := newTestSandbox(t, func(c *Config) { c.MaxOutput = 64 })
	moveTo(t, sb, Running)
	p, err := sb.Spawn(t.Context(), Shell("echo one; sleep 0.2; echo two; echo e >&2; head -c 1000 /dev/zero"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	n, err := io.ReadFull(p.Stdout(), buf)
	if err != nil || string(buf[:n]) != "one\n" {
		t.Fatalf("first chunk %q %v", buf[:n], err)
	}
	var rest, errb bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(&rest, p.Stdout()) })
	wg.Go(func() { _, _ = io.Copy(&errb, p.Stderr()) })
	res, err := p.Wait()
	wg.Wait()
	if err != nil || res.ExitCode != 0 || !res.Truncated {
		t.Fatalf("wait: %+v %v", res, err)
	}
	if !strings.HasPrefix(rest.String(), "two\n") || rest.Len() != 64-4 || errb.String() != "e\n" {
		t.Errorf("rest %q (%d) stderr %q", rest.String(), rest.Len(), errb.String())
	}
}

func TestSpawnKillAndUnreadOutput(t *testing.T) {
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	// Nobody reads: the command must still finish (output buffered up to
	// the bound, then dropped).
	p, err := sb.Spawn(t.Context(), Shell("head -c 4000000 /dev/zero"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil || res.ExitCode != 0 || !res.Truncated {
		t.Fatalf("unread: %+v %v", res, err)
	}
	p, err = sb.Spawn(t.Context(), Shell("sleep 30"))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Kill()
	res, _ = p.Wait()
	if res.Termination != TerminationKilled {
		t.Errorf("kill: %+v", res)
	}
}

func TestConcurrentExec(t *testing.T) {
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			res, err := sb.Exec(t.Context(), Command{Args: []string{"/bin/sh", "-c", "echo $N"}, Env: []string{"N=" + string(rune('a'+i))}})
			switch {
			case errors.Is(err, ErrNotRunning):
				// Arrived while the sandbox was paused: refused, as it must be.
			case err != nil:
				t.Errorf("exec %d: %v", i, err)
			case strings.TrimSpace(string(res.Stdout)) != string(rune('a'+i)):
				t.Errorf("exec %d: stdout %q", i, res.Stdout)
			}
		})
	}
	wg.Go(func() { _ = sb.Pause(t.Context()); _ = sb.Resume(t.Context()) })
	wg.Wait()
}

func TestReady(t *testing.T) {
	sb, hb := newTestSandbox(t, nil)
	if err := sb.Ready(t.Context()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Ready before Start: %v", err)
	}
	hb.mu.Lock()
	hb.ready = make(chan struct{})
	hb.mu.Unlock()
	moveTo(t, sb, Running)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := sb.Ready(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ready while the backend prepares, ctx ended: %v", err)
	}
	close(hb.ready)
	if err := sb.Ready(t.Context()); err != nil {
		t.Fatalf("Ready once prepared: %v", err)
	}
}

func TestRun(t *testing.T) {
	hb := newHostBackend(backend.Process)
	res, err := Run(t.Context(), Config{Backends: []backend.Backend{hb}}, Shell("echo hi"))
	if err != nil || string(res.Stdout) != "hi\n" {
		t.Fatalf("%v %+v", err, res)
	}
	if got := strings.Join(hb.Calls(), ","); got != "create,destroy" {
		t.Errorf("calls %s", got)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"}, []string{"A=5"})
	if strings.Join(got, " ") != "A=5 B=3 C=4" {
		t.Errorf("mergeEnv = %v", got)
	}
}

func TestOOMTermination(t *testing.T) {
	for _, tc := range []struct {
		st   backend.ExitStatus
		want Termination
		code int
	}{
		{backend.ExitStatus{Signal: syscall.SIGKILL, OOM: true}, TerminationOOM, -1},
		{backend.ExitStatus{Code: 0, OOM: true}, TerminationExited, 0},
		{backend.ExitStatus{Signal: syscall.SIGKILL}, TerminationSignaled, -1},
	} {
		sb, _ := newTestSandbox(t, nil)
		moveTo(t, sb, Running)
		sb.mu.Lock()
		sb.sb = fixedStatus{sb.sb, tc.st}
		sb.mu.Unlock()
		res, err := sb.Exec(t.Context(), Shell("true"))
		if err != nil || res.Termination != tc.want || res.ExitCode != tc.code {
			t.Errorf("%+v: got %s %d %v", tc.st, res.Termination, res.ExitCode, err)
		}
	}
}

// fixedStatus wraps a sandbox so every process ends with st.
type fixedStatus struct {
	backend.Sandbox
	st backend.ExitStatus
}

func (f fixedStatus) Start(ctx context.Context, cmd *backend.Command) (backend.Proc, error) {
	p, err := f.Sandbox.Start(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return fixedProc{p, f.st}, nil
}

type fixedProc struct {
	backend.Proc
	st backend.ExitStatus
}

func (f fixedProc) Wait() (backend.ExitStatus, error) {
	_, err := f.Proc.Wait()
	return f.st, err
}
