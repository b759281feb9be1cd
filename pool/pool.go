// Package pool keeps sandboxes warm so that a caller gets a running one
// without waiting for its creation.
//
// A Pool holds up to Size started sandboxes made from one template
// Config, each one Ready for a command (see kavach.Sandbox.Ready: for the
// process backend, its next init is already waiting), and refills itself
// in the background. Get hands one out (or,
// when the pool is empty, creates one while the caller waits); Put takes
// it back. A sandbox that ran someone's commands may hold their files, so
// Put destroys it and the pool replaces it with a fresh one: sandboxes
// are never recycled between callers. A sandbox that is no longer
// Running, or that fails its health check, is destroyed and never handed
// out.
package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kavach-go/kavach"
)

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("pool closed")

// Options tune a Pool.
type Options struct {
	// Health, when set, is called on a sandbox before it is handed out; an
	// error discards it.
	Health func(ctx context.Context, sb *kavach.Sandbox) error
	// RetryDelay is the pause after a failed refill (default 100 ms,
	// doubling up to 5 s).
	RetryDelay time.Duration
	// RefillDelay is how long the replacement of a sandbox handed out by
	// Get waits before it is built, while other warm sandboxes remain
	// (default 10 ms; negative: no wait). Building a sandbox takes several
	// milliseconds of CPU; started at once it competes with the caller's
	// first command, which on a small machine doubles that command's
	// latency. A Get that empties the pool starts the refill at once.
	RefillDelay time.Duration
}

// Stats counts what a pool has done.
type Stats struct {
	Idle      int   // warm sandboxes waiting (started and Ready)
	Created   int64 // sandboxes created (warm or on demand)
	Hits      int64 // Gets served from the warm set
	Misses    int64 // Gets that had to create a sandbox
	Discarded int64 // sandboxes destroyed as unhealthy
	LastError error // the last refill failure, if any
}

// Pool is a set of warm sandboxes. It is safe for concurrent use.
type Pool struct {
	template kavach.Config
	size     int
	opts     Options

	mu     sync.Mutex
	idle   []*kavach.Sandbox // guarded by mu
	closed bool              // guarded by mu
	stats  Stats             // guarded by mu

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// New creates a pool of size sandboxes from template and starts filling
// it in the background. It fails at once if template cannot make a
// sandbox (bad config, backend unavailable).
func New(ctx context.Context, template kavach.Config, size int, opts Options) (*Pool, error) {
	if size < 0 {
		return nil, fmt.Errorf("new pool: size %d is negative", size)
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 100 * time.Millisecond
	}
	if opts.RefillDelay == 0 {
		opts.RefillDelay = 10 * time.Millisecond
	}
	p := &Pool{template: template, size: size, opts: opts, wake: make(chan struct{}, 1), done: make(chan struct{})}
	// One sandbox made now proves the template and is the first warm one.
	sb, err := p.make(ctx)
	if err != nil {
		return nil, fmt.Errorf("new pool: %w", err)
	}
	p.idle = append(p.idle, sb)
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	go p.refill(bg)
	p.poke()
	return p, nil
}

func (p *Pool) make(ctx context.Context) (*kavach.Sandbox, error) {
	sb, err := kavach.Create(ctx, p.template)
	if err != nil {
		return nil, err
	}
	// A sandbox joins the warm set once it is ready for a fast command,
	// not merely started: the process backend's spare init would
	// otherwise still be building its root when the sandbox is handed
	// out, and its first command would wait for it.
	if err := sb.Start(ctx); err != nil {
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := sb.Ready(ctx); err != nil {
		_ = sb.Destroy(context.WithoutCancel(ctx))
		return nil, err
	}
	p.mu.Lock()
	p.stats.Created++
	p.mu.Unlock()
	return sb, nil
}

func (p *Pool) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// refill keeps the warm set at size until the pool closes.
func (p *Pool) refill(ctx context.Context) {
	defer close(p.done)
	delay := p.opts.RetryDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			need := !p.closed && len(p.idle) < p.size
			p.mu.Unlock()
			if !need {
				break
			}
			sb, err := p.make(ctx)
			if err != nil {
				p.mu.Lock()
				p.stats.LastError = err
				p.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(delay):
				}
				delay = min(delay*2, 5*time.Second)
				continue
			}
			delay = p.opts.RetryDelay
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				_ = sb.Destroy(context.WithoutCancel(ctx))
				return
			}
			p.idle = append(p.idle, sb)
			p.mu.Unlock()
		}
	}
}

// Get returns a running sandbox: a warm one when there is one, else a
// new one. The caller owns it and gives it back with Put (or destroys it).
func (p *Pool) Get(ctx context.Context) (*kavach.Sandbox, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		var sb *kavach.Sandbox
		if n := len(p.idle); n > 0 {
			sb = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		left := len(p.idle)
		p.mu.Unlock()
		if sb == nil || left == 0 || p.opts.RefillDelay < 0 {
			p.poke()
		} else {
			time.AfterFunc(p.opts.RefillDelay, p.poke)
		}
		if sb == nil {
			break
		}
		if err := p.healthy(ctx, sb); err != nil {
			_ = sb.Destroy(context.WithoutCancel(ctx))
			p.mu.Lock()
			p.stats.Discarded++
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.stats.Hits++
		p.mu.Unlock()
		return sb, nil
	}
	p.mu.Lock()
	p.stats.Misses++
	p.mu.Unlock()
	return p.make(ctx)
}

func (p *Pool) healthy(ctx context.Context, sb *kavach.Sandbox) error {
	if st := sb.State(); st != kavach.Running {
		return fmt.Errorf("sandbox %s is %s", sb.ID(), st)
	}
	if p.opts.Health != nil {
		return p.opts.Health(ctx, sb)
	}
	return nil
}

// Put returns a sandbox obtained from Get. It is destroyed — its state
// belongs to the caller that used it — and the pool refills.
func (p *Pool) Put(ctx context.Context, sb *kavach.Sandbox) error {
	err := sb.Destroy(ctx)
	p.poke()
	return err
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Idle = len(p.idle)
	return s
}

// Close stops refilling and destroys every idle sandbox. Sandboxes handed
// out stay the callers'. Close is idempotent.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	p.cancel()
	<-p.done
	var errs []error
	for _, sb := range idle {
		errs = append(errs, sb.Destroy(ctx))
	}
	return errors.Join(errs...)
}
