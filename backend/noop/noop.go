// Package noop is a backend that runs nothing: every command "exits" 0
// with no output at once. It exists for testing the layers above the
// backends (kavach 1.0's NoopBackend); it isolates nothing and scores 0.
package noop

import (
	"context"
	"errors"
	"sync"
	"syscall"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
)

// Backend is the noop backend.
type Backend struct{}

// New returns the noop backend.
func New() *Backend { return &Backend{} }

var _ backend.Backend = (*Backend)(nil)

// Kind returns backend.Noop.
func (*Backend) Kind() backend.Kind { return backend.Noop }

// Available always returns nil.
func (*Backend) Available(context.Context) error { return nil }

// Plan reports that nothing is enforced.
func (*Backend) Plan(context.Context, policy.Policy) (backend.Enforced, error) {
	return enforced(), nil
}

func enforced() backend.Enforced {
	return backend.Enforced{Backend: backend.Noop, Unenforced: []string{"everything: the noop backend runs no command"}}
}

// Create returns a sandbox that runs nothing.
func (*Backend) Create(ctx context.Context, _ backend.Spec) (backend.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &sandbox{}, nil
}

type sandbox struct {
	mu        sync.Mutex
	stopped   bool // guarded by mu
	destroyed bool // guarded by mu
}

func (s *sandbox) Enforced() backend.Enforced { return enforced() }

func (s *sandbox) Start(ctx context.Context, cmd *backend.Command) (backend.Proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.destroyed:
		return nil, backend.ErrDestroyed
	case s.stopped:
		return nil, errors.New("noop: sandbox stopped")
	case len(cmd.Args) == 0:
		return nil, errors.New("noop: empty command")
	}
	return proc{}, ctx.Err()
}

func (s *sandbox) Pause(context.Context) error  { return s.live() }
func (s *sandbox) Resume(context.Context) error { return s.live() }

func (s *sandbox) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	return nil
}

func (s *sandbox) Destroy(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroyed = true
	return nil
}

func (s *sandbox) live() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return backend.ErrDestroyed
	}
	return nil
}

type proc struct{}

func (proc) Wait() (backend.ExitStatus, error) { return backend.ExitStatus{}, nil }
func (proc) Signal(syscall.Signal) error       { return nil }
func (proc) Kill() error                       { return nil }
