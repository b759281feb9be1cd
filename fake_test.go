package kavach

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
)

// hostBackend is a test double that runs commands on the host, without
// isolation, in their own process group. It lets the core's lifecycle,
// timeouts and output bounds be tested apart from any real backend. It
// is never registered outside tests.
type hostBackend struct {
	kind        backend.Kind
	unavailable error
	plan        backend.Enforced

	mu    sync.Mutex
	calls []string // guarded by mu
	fail  map[string]error

	// startGate, when set, holds every Start until it is closed; started
	// receives a value as each Start begins waiting.
	startGate chan struct{}
	started   chan struct{}
	// ready, when set, holds Ready (backend.Readier) until it is closed.
	ready chan struct{}
}

func newHostBackend(kind backend.Kind) *hostBackend {
	return &hostBackend{kind: kind, plan: backend.Enforced{Backend: kind, Network: backend.NetworkHost}, fail: map[string]error{}}
}

func (h *hostBackend) record(op string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, op)
	return h.fail[op]
}

func (h *hostBackend) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

func (h *hostBackend) Kind() backend.Kind              { return h.kind }
func (h *hostBackend) Available(context.Context) error { return h.unavailable }
func (h *hostBackend) Plan(context.Context, policy.Policy) (backend.Enforced, error) {
	return h.plan, h.unavailable
}

func (h *hostBackend) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	if err := h.record("create"); err != nil {
		return nil, err
	}
	return &hostSandbox{h: h, procs: map[*hostProc]struct{}{}}, nil
}

type hostSandbox struct {
	h *hostBackend

	mu        sync.Mutex
	procs     map[*hostProc]struct{}
	destroyed bool
}

func (s *hostSandbox) Enforced() backend.Enforced { return s.h.plan }

func (s *hostSandbox) Ready(ctx context.Context) error {
	s.h.mu.Lock()
	ready := s.h.ready
	s.h.mu.Unlock()
	if ready == nil {
		return nil
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *hostSandbox) Start(ctx context.Context, cmd *backend.Command) (backend.Proc, error) {
	if s.h.startGate != nil {
		s.h.started <- struct{}{}
		<-s.h.startGate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return nil, backend.ErrDestroyed
	}
	c := exec.Command(cmd.Args[0], cmd.Args[1:]...)
	c.Env, c.Dir, c.Stdin, c.Stdout, c.Stderr = cmd.Env, cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 200 * time.Millisecond
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &hostProc{c: c}
	s.procs[p] = struct{}{}
	return p, nil
}

func (s *hostSandbox) signalAll(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.procs {
		_ = syscall.Kill(-p.c.Process.Pid, sig)
	}
}

func (s *hostSandbox) Pause(context.Context) error {
	s.signalAll(syscall.SIGSTOP)
	return s.h.record("pause")
}

func (s *hostSandbox) Resume(context.Context) error {
	s.signalAll(syscall.SIGCONT)
	return s.h.record("resume")
}

func (s *hostSandbox) Stop(context.Context) error {
	s.signalAll(syscall.SIGKILL)
	return s.h.record("stop")
}

func (s *hostSandbox) Destroy(context.Context) error {
	s.signalAll(syscall.SIGKILL)
	s.mu.Lock()
	s.destroyed = true
	s.mu.Unlock()
	return s.h.record("destroy")
}

type hostProc struct {
	c    *exec.Cmd
	once sync.Once
	st   backend.ExitStatus
	err  error
}

func (p *hostProc) Wait() (backend.ExitStatus, error) {
	p.once.Do(func() {
		err := p.c.Wait()
		// The group may hold the output pipes; end it like a sandbox would.
		_ = syscall.Kill(-p.c.Process.Pid, syscall.SIGKILL)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = nil
		}
		p.err = err
		ws := p.c.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			p.st.Signal = ws.Signal()
		} else {
			p.st.Code = ws.ExitStatus()
		}
	})
	return p.st, p.err
}

func (p *hostProc) Signal(sig syscall.Signal) error { return p.c.Process.Signal(sig) }
func (p *hostProc) Kill() error {
	_ = syscall.Kill(-p.c.Process.Pid, syscall.SIGKILL)
	return nil
}
