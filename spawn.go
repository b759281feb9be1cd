package kavach

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/kavach-go/kavach/guard"
)

// Process is a command started by Spawn, whose output the caller reads
// while it runs.
type Process struct {
	sb             *Sandbox
	exec           *execution
	stdout, stderr *stream
	gates          [2]*lineGate // stdout, stderr; nil without the gate
	cmd            Command
	violations     []guard.Violation
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
//
// With the gate on, output is released a line at a time after each line
// is scanned: lines with findings below the quarantine threshold are
// redacted, and the first line that would be quarantined or blocked stops
// the stream (nothing after it is released). When the command ends, the
// whole output is scanned as Exec would scan it; Wait's Result carries
// that authoritative verdict and its findings, and a quarantine stores
// the original output.
func (s *Sandbox) Spawn(ctx context.Context, cmd Command) (*Process, error) {
	vs, err := s.preExec(ctx, cmd)
	if err != nil {
		return nil, err
	}
	p := &Process{
		cmd:        cmd,
		violations: vs,
		sb:         s,
		stdout:     newStream(s.cfg.MaxOutput),
		stderr:     newStream(s.cfg.MaxOutput),
	}
	var stdout, stderr io.Writer = p.stdout, p.stderr
	// Injected credentials are redacted by value whether or not the
	// output is scanned, as Exec does; a value split across writes is
	// only whole within a line, hence the line gate for both.
	if s.cfg.Scan.Enabled || len(s.cfg.Secrets) > 0 {
		p.gates[0] = newLineGate(*s.cfg.Scan, p.stdout, s.cfg.MaxOutput, s.redactSecrets)
		p.gates[1] = newLineGate(*s.cfg.Scan, p.stderr, s.cfg.MaxOutput, s.redactSecrets)
		stdout, stderr = p.gates[0], p.gates[1]
	}
	e, wait, err := s.start(ctx, cmd, stdout, stderr)
	if err != nil {
		return nil, err
	}
	p.exec, p.wait = e, wait
	// Finish in the background, so that Stdout and Stderr reach EOF when
	// the command ends whether or not the caller has called Wait yet.
	go func() { _, _ = p.Wait() }()
	return p, nil
}

// Withheld reports whether the streaming gate stopped releasing output
// because a line would have been quarantined or blocked.
func (p *Process) Withheld() bool {
	return p.gates[0] != nil && (p.gates[0].withheld() || p.gates[1].withheld())
}

// Stdout returns the command's standard output; it reaches EOF when the
// command has ended and everything was read.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr returns the command's standard error.
func (p *Process) Stderr() io.Reader { return p.stderr }

// Wait waits for the command to end and returns its Result, without
// Stdout and Stderr (they were streamed). It may be called many times.
// The caller should have read Stdout and Stderr to EOF, or stopped
// wanting them: Wait does not wait for the reader.
func (p *Process) Wait() (*Result, error) {
	p.once.Do(func() {
		p.res, p.err = p.wait()
		if p.gates[0] != nil {
			p.gates[0].close()
			p.gates[1].close()
		}
		p.stdout.close()
		p.stderr.close()
		p.res.Truncated = p.stdout.truncated() || p.stderr.truncated()
		if p.gates[0] != nil {
			// Scan the whole output, as Exec would, for the verdict; what
			// was released is already out, so only the report is kept.
			p.res.Stdout, p.res.Stderr = p.gates[0].raw.Bytes(), p.gates[1].raw.Bytes()
			p.res.Truncated = p.res.Truncated || p.gates[0].raw.Truncated() || p.gates[1].raw.Truncated()
			if gerr := p.sb.gate(context.Background(), p.res); gerr != nil {
				p.err = errors.Join(p.err, gerr)
			}
			p.res.Stdout, p.res.Stderr = nil, nil
		}
		if perr := p.sb.postExec(context.Background(), p.cmd, p.res, p.violations); perr != nil {
			p.err = errors.Join(p.err, perr)
		}
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
