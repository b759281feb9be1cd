package process

// The parent ↔ init protocol. Start re-executes this binary in the role
// "process-init" with fds 0-2 the command's stdio, fd 3 the read end of
// the config pipe and fd 4 the write end of the status pipe:
//
//	parent (kavach)                                 init (pid 1, new namespaces)
//	───────────────                                 ────────────────────────────
//	clone(/proc/self/exe, CLONE_NEW{USER,PID,NS,
//	      NET,UTS,IPC}); Go writes uid/gid maps ──▶ Go runtime starts, role dispatch
//	add init's pid to the sandbox cgroup
//	config: u32 big-endian length + JSON ───fd 3──▶ read config
//	                                                build the root: tmpfs, binds,
//	                                                /etc, /dev, /proc, /tmp, workdir,
//	                                                files, hostname, lo up, pivot_root
//	         (only when Spec.Prepare is set:)
//	                          ◀───fd 4─── {"t":"ready"}
//	Prepare(ctx, initPID)
//	"g" ───────────────────────────────────fd 3──▶ go on
//	                                                unshare(CLONE_NEWCGROUP) unless
//	                                                born in the group (see below);
//	                                                v1: the forking thread joins the
//	                                                pids group alone
//	                                                locked thread: drop bounding set,
//	                                                setgroups/setresgid/setresuid (or
//	                                                securebits), clear caps, no_new_privs,
//	                                                Landlock, seccomp; fork+exec command;
//	                                                close fds 0-2 (the command has them)
//	                          ◀───fd 4─── {"t":"started"}   or   {"t":"error",...}; exit 1
//	Start returns the Proc                          reap, forward signals
//	                                                command exited: kill(-1, SIGKILL),
//	                                                reap everything
//	                          ◀───fd 4─── {"t":"exit","code":c,"sig":s}; exit 0
//	Wait: read the exit message, wait for the
//	output's EOF, compare the cgroup's OOM count;
//	reap the init in the background. Without an
//	exit message: reap the init first (the kernel
//	has killed the whole pid namespace with it).
//
// When the sandbox has a cgroup, the init is born in it (CLONE_INTO_CGROUP
// on v2, a fork from a thread that moved itself into the group on v1) and
// CLONE_NEWCGROUP joins the clone flags; otherwise the parent moves the
// started init and the init unshares its cgroup namespace itself.
//
// A spare ("warm") init runs the same protocol with initConfig.Spare set
// and without the command: the sandbox starts it in the background after
// Create and after each Start that consumes one. It builds the root, joins
// the pids group, restricts its locked thread as the last stage would
// (the rlimits of the fallback without cgroups are set only when it forks
// the command), sends {"t":"idle"} and blocks reading the command part
// (commandPart, the same framing) from fd 3. Start takes the spare, reads
// "idle" (falling back to a fresh init if the spare failed), runs
// Spec.Prepare, sends the command and goes on as above from "started".
// The spare's stdin, stdout and stderr are pipes whose other ends the
// parent keeps until the command is known.
//
// Messages on fd 4 are JSON lines. If the init dies without an exit
// message (Kill sends it SIGKILL), Wait reports the signal that killed it.
// Both pipes are close-on-exec in the init, so the command inherits only
// fds 0-2.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/procinit"
	"github.com/kavach-go/kavach/internal/reexec"
)

// The protocol's types live in internal/procinit with the init itself,
// a package with few dependencies whose initialiser runs the init before
// the rest of the program initialises.
type (
	initConfig  = procinit.Config
	commandPart = procinit.CommandPart
	statusMsg   = procinit.Status
	rootEntry   = procinit.Entry
	rlimit      = procinit.Rlimit
)

// initRole is the reexec role of the sandbox init.
const initRole = procinit.Role

// statusErr is the error an init reports in m.
func statusErr(m *statusMsg) error {
	var inner error = errors.New(m.Msg)
	if m.Errno != 0 {
		inner = syscall.Errno(m.Errno)
	}
	if m.Stage == "exec" {
		return &backend.ExecError{Path: m.Path, Err: inner}
	}
	if m.Errno != 0 {
		inner = fmt.Errorf("%s: %w", m.Msg, syscall.Errno(m.Errno))
	}
	return &InitError{Stage: m.Stage, Err: inner}
}

// proc is a started command.
type proc struct {
	s      *sandbox
	cmd    *exec.Cmd
	status *os.File
	// rd reads status; after "started", only the exit status is left
	// (read by Wait).
	rd      *bufio.Reader
	cleanup func()
	oomBase uint64
	// stdin is the write end of a spare's stdin pipe, closed by Wait so
	// that a copy into it ends.
	stdin *os.File
	// refill asks Wait to start the sandbox's next spare.
	refill bool

	drained sync.WaitGroup // the output copies

	once sync.Once
	st   backend.ExitStatus
	err  error
	werr error // the init's wait error
}

// sameWriter reports whether a and b are the same writer; writers of
// incomparable types are never the same.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// drain copies r to w until EOF, then closes r. A writer that fails is
// replaced by a discard, so that the command never blocks on its output.
func (p *proc) drain(r *os.File, w io.Writer) {
	p.drained.Go(func() {
		defer r.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 && w != nil {
				if _, werr := w.Write(buf[:n]); werr != nil {
					w = nil
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// spawn starts cfg's command in a fresh init; see the protocol above.
func (s *sandbox) spawn(ctx context.Context, c *backend.Command, cfg *initConfig) (_ *proc, err error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	var oomBase uint64
	if s.cg != nil {
		if oomBase, err = s.cg.OOMKills(); err != nil {
			cfgR.Close()
			cfgW.Close()
			stR.Close()
			stW.Close()
			return nil, fmt.Errorf("start: %w", err)
		}
	}
	cmd := newInitCmd()
	// Stdout and stderr are pipes of our own, drained by our goroutines
	// until EOF: every process holding a write end lives in the sandbox's
	// pid namespace and dies with the init, so EOF always comes, and no
	// output is cut off however slowly the reader drains it.
	outR, outW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		stR.Close()
		stW.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		stR.Close()
		stW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, outW, errW
	cmd.ExtraFiles = []*os.File{cfgR, stW}
	cmd.SysProcAttr = s.sysProcAttr()
	// WaitDelay bounds how long Wait waits for a Stdin reader that never
	// ends once the init has exited (stdout and stderr are ours, above).
	cmd.WaitDelay = 250 * time.Millisecond
	joined, err := s.startInCgroup(cmd)
	cfgR.Close()
	stW.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		cfgW.Close()
		stR.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start sandbox init: %w", err)
	}
	p := &proc{s: s, cmd: cmd, status: stR, rd: bufio.NewReader(stR), oomBase: oomBase}
	stdout, stderr := c.Stdout, c.Stderr
	if sameWriter(stdout, stderr) {
		// As exec.Cmd promises: one writer for both streams sees one Write
		// at a time.
		lw := &lockedWriter{w: stdout}
		stdout, stderr = lw, lw
	}
	p.drain(outR, stdout)
	p.drain(errR, stderr)
	defer func() {
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			stR.Close()
			if p.cleanup != nil {
				p.cleanup()
			}
		}
	}()
	defer cfgW.Close()
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	ctxErr := func(err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("start: %w", cerr)
		}
		return err
	}

	if s.cg != nil && !joined {
		if err := s.cg.AddExcept(cmd.Process.Pid, s.initOutside); err != nil {
			return nil, ctxErr(err)
		}
	}
	cfg.PidsTasks = s.pidsTasks
	cfg.UnshareCgroup = !joined
	if err := writeConfig(cfgW, cfg); err != nil {
		return nil, ctxErr(fmt.Errorf("send sandbox config: %w", err))
	}
	rd := p.rd
	if cfg.WaitGo {
		m, err := readMsg(rd)
		if err != nil {
			return nil, ctxErr(err)
		}
		if m.T != "ready" {
			return nil, ctxErr(statusErr(m))
		}
		cleanup, err := s.spec.Prepare(ctx, cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		p.cleanup = cleanup
		if _, err := cfgW.Write([]byte{'g'}); err != nil {
			return nil, ctxErr(fmt.Errorf("resume sandbox init: %w", err))
		}
	}
	m, err := readMsg(rd)
	if err != nil {
		return nil, ctxErr(err)
	}
	if m.T != "started" {
		return nil, ctxErr(statusErr(m))
	}
	return p, nil
}

// newInitCmd is the command of a sandbox init, not started.
func newInitCmd() *exec.Cmd {
	cmd := reexec.Command(initRole)
	// The init needs no GOMAXPROCS from cgroup CPU limits and no updates
	// of it (updatemaxprocs=0 spares a background re-read; Go 1.26 still
	// reads the cgroup files once at start whatever containermaxprocs
	// says). An empty TZ is UTC to Go: the time zone, which a package
	// initialiser asks for, is not read from /etc/localtime. The command
	// gets its own environment, not this one.
	//
	// One P: the init waits for most of its life, and a Go process with
	// more than one P is slower to reap (see oneProc in cmd/kavach).
	cmd.Env = append(cmd.Env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0", "TZ=", "GOMAXPROCS=1")
	return cmd
}

// startInCgroup starts the init already inside the sandbox's cgroup when
// the kernel allows it cheaply, and reports whether it did: on v2 with
// CLONE_INTO_CGROUP, on v1 by forking from a thread that moved itself
// into the group (see cgroup.StartIn). Otherwise the caller
// moves the started init, which costs an RCU grace period.
func (s *sandbox) startInCgroup(cmd *exec.Cmd) (bool, error) {
	if s.cg == nil {
		return false, cmd.Start()
	}
	if s.cg.Version() == 2 {
		f, err := s.cg.FD()
		if err == nil {
			defer f.Close()
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(f.Fd())
			cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWCGROUP
			return true, cmd.Start()
		}
		return false, cmd.Start()
	}
	// Born in the group, the init can get its cgroup namespace from clone
	// too, rooted at the sandbox's group.
	start := func() error {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWCGROUP
		return cmd.Start()
	}
	s.cgMu.RLock()
	if s.paused {
		// A thread that joined the frozen group would freeze with it: the
		// init is moved in after its start instead, and stays frozen until
		// Resume.
		s.cgMu.RUnlock()
		return false, cmd.Start()
	}
	err := s.cg.StartInExcept(s.initOutside, start)
	s.cgMu.RUnlock()
	if err != nil {
		if errors.Is(err, cgroup.ErrNotStarted) {
			cmd.SysProcAttr.Cloneflags &^= syscall.CLONE_NEWCGROUP
			return false, cmd.Start()
		}
		return false, err
	}
	return true, nil
}

func writeConfig(w io.Writer, cfg *initConfig) error { return writeFrame(w, cfg) }

// writeFrame writes v as a u32 big-endian length and JSON, in one write.
func writeFrame(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 4, 4+len(data))
	binary.BigEndian.PutUint32(buf, uint32(len(data)))
	_, err = w.Write(append(buf, data...))
	return err
}

func readMsg(rd *bufio.Reader) (*statusMsg, error) {
	line, err := rd.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &InitError{Stage: "startup", Err: errors.New("init exited without a status (see the command's stderr)")}
		}
		return nil, fmt.Errorf("read sandbox init status: %w", err)
	}
	var m statusMsg
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("read sandbox init status %q: %w", line, err)
	}
	return &m, nil
}

// Wait waits for the command and everything it started. The init reports
// the command's status once it has killed and reaped every other process
// of the pid namespace and closed its stdio: Wait returns then, and the
// init itself, whose exit tears the namespaces down (a few milliseconds
// spent in the kernel), is reaped in the background; Destroy waits for
// it. An init that dies without a report is reaped first.
func (p *proc) Wait() (backend.ExitStatus, error) {
	p.once.Do(func() {
		// The only message left is the exit status; EOF without it means
		// the init was killed. Read here rather than by a goroutine of its
		// own: one wake-up less between the command's exit and Wait's
		// return.
		m, err := readMsg(p.rd)
		if err != nil || m.T != "exit" {
			m = nil
		}
		if m == nil {
			p.reap()
			ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case ok && ws.Signaled():
				p.st = backend.ExitStatus{Code: -1, Signal: ws.Signal()}
			case p.werr != nil:
				p.err = fmt.Errorf("wait for sandbox init: %w", p.werr)
			default:
				p.err = fmt.Errorf("sandbox init exited with status %d without reporting the command's", p.cmd.ProcessState.ExitCode())
			}
		} else {
			p.drained.Wait()
			p.st = backend.ExitStatus{Code: m.Code, Signal: syscall.Signal(m.Sig)}
		}
		p.status.Close()
		// The memory limit kills with SIGKILL: a command that exited on its
		// own was not killed by it, and its status needs no cgroup read.
		if p.s.cg != nil && p.st.Signal != 0 {
			if n, err := p.s.cg.OOMKills(); err == nil && n > p.oomBase {
				p.st.OOM = true
			}
		}
		if p.cleanup != nil {
			p.cleanup()
		}
		if m == nil {
			p.done()
		} else {
			go func() {
				p.reap()
				p.done()
			}()
		}
	})
	return p.st, p.err
}

// reap waits for the init and for the output copies.
func (p *proc) reap() {
	p.werr = p.cmd.Wait()
	if p.stdin != nil {
		p.stdin.Close()
	}
	p.drained.Wait()
}

// done ends the command's life in the sandbox, once its init is reaped.
func (p *proc) done() {
	p.s.forget(p)
	if p.refill {
		p.s.refill()
	}
	p.s.inflight.Done()
}

// Signal sends sig to the command through the init; SIGKILL kills the
// whole sandbox process tree, as Kill does.
func (p *proc) Signal(sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Kill()
	}
	if sig == syscall.SIGSTOP {
		return fmt.Errorf("signal %v: cannot be forwarded; use Sandbox.Pause", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal: %w", err)
	}
	return nil
}

// Kill kills the init, and with it every process of its pid namespace.
func (p *proc) Kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill: %w", err)
	}
	return nil
}
