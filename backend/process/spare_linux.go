package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/backend"
)

// spare is a started init that has been sent the sandbox's config
// without a command (see the protocol in protocol_linux.go). The parent
// keeps its end of every pipe.
type spare struct {
	cmd  *exec.Cmd
	cfgW *os.File // config pipe, for the command part
	stR  *os.File // status pipe
	rd   *bufio.Reader
	inW  *os.File // the command's stdin
	outR *os.File
	errR *os.File
	// oomBase is the sandbox's OOM kill count when the spare became idle
	// (or oomErr why it could not be read): the base its command's OOM
	// check compares with, read off the command's path.
	oomBase uint64
	oomErr  error
}

// spareFuture is a spare being started in the background: sp is set,
// once the spare is idle (or left nil when it failed), before done is
// closed. It holds one count of sandbox.inflight from refill until
// whoever takes it out of sandbox.next has used or reaped its spare.
type spareFuture struct {
	done chan struct{}
	sp   *spare

	mu      sync.Mutex
	proc    *os.Process // guarded by mu; the spare once started
	dropped bool        // guarded by mu
}

// discard kills the spare, reaps it and closes the parent's pipe ends.
func (sp *spare) discard() {
	_ = sp.cmd.Process.Kill()
	_ = sp.cmd.Wait()
	for _, f := range []*os.File{sp.cfgW, sp.stR, sp.inW, sp.outR, sp.errR} {
		f.Close()
	}
}

// dead reports whether the idle spare has died or reported something
// (an idle init writes nothing until it has its command).
func (sp *spare) dead() bool {
	rc, err := sp.stR.SyscallConn()
	if err != nil {
		return true
	}
	var n int
	cerr := rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err = unix.Poll(pfd, 0)
	})
	return cerr != nil || err != nil || n != 0 || sp.rd.Buffered() != 0
}

// refill starts the next spare in the background unless one is there or
// on its way, or the sandbox is stopped.
func (s *sandbox) refill() {
	s.mu.Lock()
	if s.stopped || s.destroyed || s.next != nil {
		s.mu.Unlock()
		return
	}
	f := &spareFuture{done: make(chan struct{})}
	s.next = f
	s.inflight.Add(1)
	s.mu.Unlock()
	go func() {
		defer close(f.done)
		sp, err := s.spawnSpare(f)
		if err == nil {
			f.sp = sp
		}
	}()
}

// peekNext returns the future spare, leaving it in the sandbox.
func (s *sandbox) peekNext() *spareFuture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// takeNext removes the future spare from the sandbox; the caller then
// owns it and its inflight count.
func (s *sandbox) takeNext() *spareFuture {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.next
	s.next = nil
	return f
}

// drop kills f's spare (or keeps it from starting), reaps it and
// releases f's inflight count.
func (s *sandbox) drop(f *spareFuture) {
	f.mu.Lock()
	f.dropped = true
	if f.proc != nil {
		_ = f.proc.Kill()
	}
	f.mu.Unlock()
	<-f.done
	if f.sp != nil {
		f.sp.discard()
	}
	s.inflight.Done()
}

// errDropped ends the start of a spare that was dropped meanwhile.
var errDropped = errors.New("spare dropped")

// spawnSpare starts an init with the sandbox's config and no command,
// and waits until it is idle.
func (s *sandbox) spawnSpare(f *spareFuture) (_ *spare, err error) {
	f.mu.Lock()
	dropped := f.dropped
	f.mu.Unlock()
	if dropped {
		return nil, errDropped
	}
	var parent, child []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			closeAll(parent)
			closeAll(child)
		}
		return r, w, err
	}
	cfgR, cfgW, err := pipe()
	if err != nil {
		return nil, err
	}
	parent, child = append(parent, cfgW), append(child, cfgR)
	stR, stW, err := pipe()
	if err != nil {
		return nil, err
	}
	parent, child = append(parent, stR), append(child, stW)
	inR, inW, err := pipe()
	if err != nil {
		return nil, err
	}
	parent, child = append(parent, inW), append(child, inR)
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	parent, child = append(parent, outR), append(child, outW)
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	parent, child = append(parent, errR), append(child, errW)

	cmd := newInitCmd()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.ExtraFiles = []*os.File{cfgR, stW}
	cmd.SysProcAttr = s.sysProcAttr()
	joined, err := s.startInCgroup(cmd)
	closeAll(child)
	if err != nil {
		closeAll(parent)
		return nil, fmt.Errorf("start spare init: %w", err)
	}
	sp := &spare{cmd: cmd, cfgW: cfgW, stR: stR, rd: bufio.NewReader(stR), inW: inW, outR: outR, errR: errR}
	f.mu.Lock()
	f.proc = cmd.Process
	if f.dropped {
		_ = cmd.Process.Kill()
	}
	f.mu.Unlock()
	if s.cg != nil && !joined {
		if err := s.cg.AddExcept(cmd.Process.Pid, s.initOutside); err != nil {
			sp.discard()
			return nil, err
		}
	}
	cfg := s.base
	cfg.PidsTasks = s.pidsTasks
	cfg.UnshareCgroup = !joined
	cfg.Spare = true
	if err := writeConfig(cfgW, &cfg); err != nil {
		sp.discard()
		return nil, fmt.Errorf("send spare config: %w", err)
	}
	m, err := readMsg(sp.rd)
	if err == nil && m.T != "idle" {
		err = statusErr(m)
	}
	if err != nil {
		sp.discard()
		return nil, fmt.Errorf("spare init: %w", err)
	}
	if s.cg != nil {
		sp.oomBase, sp.oomErr = s.cg.OOMKills()
	}
	return sp, nil
}

// startWarm starts c in the sandbox's spare init, if it has one that
// works. ok is false when the caller should start a fresh init instead:
// no spare, or one that failed before it was given the command (it has
// been reaped then).
func (s *sandbox) startWarm(ctx context.Context, c *backend.Command) (_ *proc, ok bool, err error) {
	f := s.takeNext()
	if f == nil {
		return nil, false, nil
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		go s.drop(f)
		return nil, true, fmt.Errorf("start: %w", ctx.Err())
	}
	sp := f.sp
	// Start's own inflight count covers the spare from here on; every
	// path below reaps it before Start returns.
	s.inflight.Done()
	if sp == nil {
		return nil, false, nil
	}
	if sp.dead() {
		sp.discard()
		return nil, false, nil
	}
	stop := context.AfterFunc(ctx, func() { _ = sp.cmd.Process.Kill() })
	defer stop()
	ctxErr := func(err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("start: %w", cerr)
		}
		return err
	}
	oomBase := sp.oomBase
	if sp.oomErr != nil {
		sp.discard()
		return nil, true, fmt.Errorf("start: %w", sp.oomErr)
	}
	var cleanup func()
	if s.spec.Prepare != nil {
		cleanup, err = s.spec.Prepare(ctx, sp.cmd.Process.Pid)
		if err != nil {
			sp.discard()
			return nil, true, fmt.Errorf("prepare: %w", err)
		}
	}
	dir := WorkdirPath
	if c.Dir != "" {
		dir = commandDir(c.Dir)
	}
	env := c.Env
	if env == nil {
		env = []string{}
	}
	werr := writeFrame(sp.cfgW, &commandPart{Args: c.Args, Env: env, Dir: dir})
	sp.cfgW.Close()
	if werr != nil {
		// The spare died before it read the command: nothing ran.
		sp.discard()
		if cleanup != nil {
			cleanup()
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, true, fmt.Errorf("start: %w", cerr)
		}
		return nil, false, nil
	}
	if c.Stdin == nil {
		sp.inW.Close()
	} else {
		go func() {
			_, _ = io.Copy(sp.inW, c.Stdin)
			sp.inW.Close()
		}()
	}
	p := &proc{s: s, cmd: sp.cmd, status: sp.stR, rd: sp.rd, oomBase: oomBase, cleanup: cleanup, stdin: sp.inW}
	stdout, stderr := c.Stdout, c.Stderr
	if sameWriter(stdout, stderr) {
		lw := &lockedWriter{w: stdout}
		stdout, stderr = lw, lw
	}
	p.drain(sp.outR, stdout)
	p.drain(sp.errR, stderr)
	m, err := readMsg(sp.rd)
	if err == nil && m.T != "started" {
		err = statusErr(m)
	}
	if err != nil {
		_ = sp.cmd.Process.Kill()
		_ = sp.cmd.Wait()
		sp.inW.Close()
		sp.stR.Close()
		if cleanup != nil {
			cleanup()
		}
		return nil, true, ctxErr(err)
	}
	return p, true, nil
}

// Ready waits until the sandbox's spare init, if one is being started,
// is idle or has failed (see backend.Readier).
func (s *sandbox) Ready(ctx context.Context) error {
	f := s.peekNext()
	if f == nil {
		return nil
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
