package kavach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/score"
	"github.com/kavach-go/kavach/threat"
)

// Command is one program to run: argv, never a shell string.
type Command struct {
	Args []string
	// Stdin is the command's input; nil means Input, and with Input nil
	// too, /dev/null.
	Stdin io.Reader
	Input []byte
	// Env is added to the sandbox's environment ("KEY=value").
	Env []string
	// Dir is the working directory inside the sandbox; empty means the
	// workdir.
	Dir string
	// Expected, when set, is how long the command should take: running
	// longer than Guard.TimeAnomalyMultiplier times it is a time_anomaly
	// violation (the original's time-anomaly guard).
	Expected time.Duration
}

// Shell returns a Command that runs script with /bin/sh -c.
func Shell(script string) Command { return Command{Args: []string{"/bin/sh", "-c", script}} }

// Termination says how a command ended.
type Termination string

// The ways a command ends.
const (
	TerminationExited   Termination = "exited"   // it exited; ExitCode is its code
	TerminationSignaled Termination = "signaled" // a signal killed it; see Signal
	TerminationTimeout  Termination = "timeout"  // the timeout or ctx deadline killed it
	TerminationOOM      Termination = "oom"      // the memory limit killed it
	TerminationKilled   Termination = "killed"   // Kill, Stop, Destroy or ctx cancel killed it
)

// Result is the outcome of one command. A non-zero ExitCode is data, not
// an error.
type Result struct {
	// ExitCode is the command's exit code when Termination is "exited",
	// and -1 otherwise (as in kavach 1.0).
	ExitCode    int            `json:"exit_code"`
	Stdout      []byte         `json:"stdout"`
	Stderr      []byte         `json:"stderr"`
	Truncated   bool           `json:"truncated"` // output beyond MaxOutput was dropped
	Termination Termination    `json:"termination"`
	Signal      syscall.Signal `json:"signal,omitempty"`
	Duration    time.Duration  `json:"duration_ns"`
	// Enforced and Score describe what the backend really applied.
	Enforced backend.Enforced `json:"enforced"`
	Score    score.Score      `json:"score"`
	// Findings and Verdict come from the output gate, when it is on.
	Findings []scan.Finding `json:"findings,omitempty"`
	Verdict  scan.Verdict   `json:"verdict"`
	// QuarantineID names the stored original output on a Quarantine
	// verdict (Stdout and Stderr then hold the redacted output).
	QuarantineID string `json:"quarantine_id,omitempty"`
	// Violations are the guards' findings about the command itself.
	Violations []guard.Violation `json:"violations,omitempty"`
	// Threat scores the intent behind the findings and violations.
	Threat threat.Assessment `json:"threat"`
}

// execution is one running command, tracked so that Stop, Destroy and
// timeouts can kill it.
type execution struct {
	proc  backend.Proc
	start time.Time

	mu     sync.Mutex
	reason Termination // guarded by mu; why kavach killed it, "" if it did not
}

func (e *execution) kill(why Termination) {
	e.mu.Lock()
	if e.reason == "" {
		e.reason = why
	}
	e.mu.Unlock()
	_ = e.proc.Kill()
}

func (e *execution) killedFor() Termination {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reason
}

// start launches cmd with the given output writers and a watchdog that
// kills it at the timeout or when ctx ends.
func (s *Sandbox) start(ctx context.Context, cmd Command, stdout, stderr io.Writer) (*execution, func() (*Result, error), error) {
	if len(cmd.Args) == 0 || cmd.Args[0] == "" {
		return nil, nil, fmt.Errorf("exec: %w: empty argv", ErrInvalidCommand)
	}
	if err := validEnv(cmd.Env); err != nil {
		return nil, nil, fmt.Errorf("exec: %w: %w", ErrInvalidCommand, err)
	}
	stdin := cmd.Stdin
	if stdin == nil && cmd.Input != nil {
		stdin = bytes.NewReader(cmd.Input)
	}
	timeout := s.cfg.Timeout
	if t := s.cfg.Policy.Timeout(); t > 0 && t < timeout {
		timeout = t
	}

	s.mu.Lock()
	// A transition waiting for the starts under way goes first.
	for s.transitions > 0 {
		s.startsDone.Wait()
	}
	if s.state != Running {
		st := s.state
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("exec: %w: sandbox is %s", ErrNotRunning, st)
	}
	sb, enforced, sc, pids := s.sb, s.enforced, s.score, s.pids
	bcmd := &backend.Command{
		Args: cmd.Args, Env: s.secretEnv(mergeEnv(s.env(cmd.Env), s.proxyEnv)), Dir: cmd.Dir,
		Stdin: s.secretStdin(stdin), Stdout: stdout, Stderr: stderr,
	}
	// The backend's Start runs without the lock, so that State and other
	// Execs do not wait for it; transitions wait until no start is under
	// way (see Transition), so the backend never sees a Start race a
	// Pause, Stop or Destroy, and a stop kills what was just started.
	s.starting++
	s.mu.Unlock()
	e := &execution{start: time.Now()}
	fb := forkBombBase(pids)
	proc, err := sb.Start(ctx, bcmd)
	s.mu.Lock()
	if s.starting--; s.starting == 0 {
		s.startsDone.Broadcast()
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("exec %s: %w", cmd.Args[0], err)
	}
	e.proc = proc
	s.running[e] = struct{}{}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			e.kill(TerminationTimeout)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				e.kill(TerminationTimeout)
			} else {
				e.kill(TerminationKilled)
			}
		}
	}()

	wait := func() (*Result, error) {
		st, werr := proc.Wait()
		close(done)
		s.mu.Lock()
		delete(s.running, e)
		s.mu.Unlock()
		res := &Result{
			ExitCode: -1, Duration: time.Since(e.start),
			Enforced: enforced, Score: sc, Termination: TerminationExited,
		}
		switch why := e.killedFor(); {
		case st.OOM && st.Signal != 0:
			// The memory limit was hit and the command died of a signal:
			// the OOM killer ended it. A command that hit the limit in a
			// child but exited on its own still "exited".
			res.Termination = TerminationOOM
		case why != "":
			res.Termination = why
		case st.Signal != 0:
			res.Termination = TerminationSignaled
		}
		res.Signal = st.Signal
		if res.Termination == TerminationExited {
			res.ExitCode = st.Code
		}
		res.Violations = s.forkBombCheck(ctx, fb)
		if cmd.Expected > 0 {
			res.Violations = append(res.Violations, guard.CheckTimeAnomaly(res.Duration, cmd.Expected, s.cfg.Guard)...)
		}
		if werr != nil {
			return res, fmt.Errorf("exec %s: wait: %w", cmd.Args[0], werr)
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("exec %s: %w", cmd.Args[0], err)
		}
		return res, nil
	}
	return e, wait, nil
}

// forkBomb is what the fork-bomb guard knows of a command's start: the
// sandbox's pids counters and their count of refused forks before it.
type forkBomb struct {
	r    *guard.PidsReader
	base int64
}

// forkBombBase reads the count of refused forks before a command starts:
// the base the command is judged against. Without a pids cgroup (r is
// nil, or unreadable) there is nothing to judge.
func forkBombBase(r *guard.PidsReader) forkBomb {
	if r == nil {
		return forkBomb{}
	}
	n, err := r.MaxEvents()
	if err != nil {
		return forkBomb{}
	}
	return forkBomb{r: r, base: n}
}

// forkBombCheck is the fork-bomb guard after a command: forks the pids
// limit refused while it ran (the counter's increase since base) are a
// violation, as is a count still near the limit.
func (s *Sandbox) forkBombCheck(ctx context.Context, fb forkBomb) []guard.Violation {
	if fb.r == nil {
		return nil
	}
	st, err := fb.r.Read(context.WithoutCancel(ctx))
	if err != nil {
		return nil
	}
	st.MaxEvents -= fb.base
	return guard.CheckPids(st, s.cfg.Guard)
}

// Exec runs cmd and returns its bounded output. The sandbox's timeout and
// ctx bound the whole run: when either ends, every process the command
// started is killed. When ctx ends, the error matches ctx.Err() and the
// partial Result is returned with it.
func (s *Sandbox) Exec(ctx context.Context, cmd Command) (*Result, error) {
	vs, err := s.preExec(ctx, cmd)
	if err != nil {
		return nil, err
	}
	stdout := &boundedBuffer{limit: s.cfg.MaxOutput}
	stderr := &boundedBuffer{limit: s.cfg.MaxOutput}
	_, wait, err := s.start(ctx, cmd, stdout, stderr)
	if err != nil {
		return nil, err
	}
	res, err := wait()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	res.Truncated = stdout.Truncated() || stderr.Truncated()
	gerr := s.gate(ctx, res)
	perr := s.postExec(ctx, cmd, res, vs)
	return res, errors.Join(err, gerr, perr)
}

// gate scans res's output and replaces it with what may leave the
// sandbox: unchanged on Pass, redacted on Warn and Quarantine (the
// original stored first), nothing on Block.
func (s *Sandbox) gate(ctx context.Context, res *Result) error {
	res.Stdout, res.Stderr = s.redactSecrets(res.Stdout), s.redactSecrets(res.Stderr)
	if !s.cfg.Scan.Enabled {
		return nil
	}
	if len(res.Stdout) == 0 && len(res.Stderr) == 0 {
		// Nothing to release: a pass, without building the scanners.
		res.Verdict = scan.Pass
		return nil
	}
	out, err := s.gateImpl.Apply(context.WithoutCancel(ctx), res.Stdout, res.Stderr)
	if err != nil {
		// The output cannot be released as the policy requires: withhold it.
		res.Stdout, res.Stderr = nil, nil
		if out != nil {
			res.Findings, res.Verdict = out.Findings, out.Verdict
		}
		return fmt.Errorf("exec %s: gate: %w", s.id, err)
	}
	res.Findings, res.Verdict, res.QuarantineID = out.Findings, out.Verdict, out.QuarantineID
	res.Stdout, res.Stderr = out.Stdout, out.Stderr
	return nil
}

// boundedBuffer keeps the first limit bytes written to it and counts the
// rest. Writes never fail and never block, so the command is never held
// up by a full pipe.
type boundedBuffer struct {
	mu        sync.Mutex
	limit     int
	buf       []byte
	truncated bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - len(b.buf)
	if len(p) > room {
		b.truncated = true
		b.buf = append(b.buf, p[:max(room, 0)]...)
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *boundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}

func (b *boundedBuffer) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.truncated
}
