package kavach

import (
	"context"
	"io"
	"sync"
	"syscall"
)

// Process is a command started by Spawn, whose output the caller reads
// while it runs.
type Process struct {
	exec           *execution
	stdout, stderr *stream
	once           sync.Once
	res            *Result
	err            error
	wait           func() (*Result, error)
}

// Spawn starts cmd and returns at once; read its output from Stdout and
// Stderr while it runs. The same bounds as Exec apply: the timeout and
// ctx kill it, and at most MaxOutput bytes per stream are kept; output
// the caller has not read yet is buffered (never more than MaxOutput per
// stream), so the command is never blocked by a slow reader.
func (s *Sandbox) Spawn(ctx context.Context, cmd Command) (*Process, error) {
	p := &Process{
		stdout: newStream(s.cfg.MaxOutput),
		stderr: newStream(s.cfg.MaxOutput),
	}
	e, wait, err := s.start(ctx, cmd, p.stdout, p.stderr)
	if err != nil {
		return nil, err
	}
	p.exec, p.wait = e, wait
	return p, nil
}

// Stdout returns the command's standard output; it reaches EOF when the
// command has ended and everything was read.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr returns the command's standard error.
func (p *Process) Stderr() io.Reader { return p.stderr }

// Wait waits for the command to end and returns its Result, without
// Stdout and Stderr (they were streamed). It may be called many times.
func (p *Process) Wait() (*Result, error) {
	p.once.Do(func() {
		p.res, p.err = p.wait()
		p.stdout.close()
		p.stderr.close()
		p.res.Truncated = p.stdout.truncated() || p.stderr.truncated()
	})
	return p.res, p.err
}

// Signal sends sig to the command.
func (p *Process) Signal(sig syscall.Signal) error { return p.exec.proc.Signal(sig) }

// Kill kills the command and everything it started; Wait then reports
// Termination "killed".
func (p *Process) Kill() error {
	p.exec.kill(TerminationKilled)
	return nil
}

// stream is an in-memory pipe whose writer never blocks: it buffers up to
// limit bytes in total and drops the rest.
type stream struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte // unread bytes
	written int    // bytes accepted so far
	limit   int
	dropped bool
	closed  bool
}

func newStream(limit int) *stream {
	s := &stream{limit: limit}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	if room := s.limit - s.written; n > room {
		s.dropped = true
		p = p[:max(room, 0)]
	}
	s.buf = append(s.buf, p...)
	s.written += len(p)
	s.cond.Broadcast()
	return n, nil
}

func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.buf) == 0 && !s.closed {
		s.cond.Wait()
	}
	if len(s.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cond.Broadcast()
}

func (s *stream) truncated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}
