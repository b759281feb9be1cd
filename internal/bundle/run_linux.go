package bundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kavach-go/kavach/backend"
)

// Runtime is an OCI runtime's command line.
type Runtime struct {
	Kind backend.Kind
	// Path is the runtime binary (crun, runc or runsc).
	Path string
	// Global are the arguments before the subcommand, e.g. --root and,
	// for runsc, --network and --platform.
	Global []string
}

func (r Runtime) command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, r.Path, append(append([]string(nil), r.Global...), args...)...)
	c.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return c
}

// Config is what Create needs besides the runtime.
type Config struct {
	Spec     backend.Spec
	Enforced backend.Enforced
	// Rootfs is a root directory to use as is; "" builds one from the
	// host's binaries.
	Rootfs string
	// NetNS gives each container its own network namespace.
	NetNS bool
	// StateDir holds the sandbox's directories; "" is os.TempDir.
	StateDir string
	// CgroupFS: see Options.CgroupFS.
	CgroupFS bool
	// PidsInKernel: see Options.PidsInKernel.
	PidsInKernel bool
	// Populate, when set, fills a fresh root directory (inside the
	// sandbox's own directory, removed by Destroy) that is then used as a
	// given root, e.g. by unpacking an OCI image into it.
	Populate func(ctx context.Context, rootfs string) error
	// Inner, when set, is applied inside every container (see
	// InnerStage); Create also takes it from WithInnerStage.
	Inner *InnerStage
	// Prepare says the runtime's container init lives in the network
	// namespace the command uses, so Spec.Prepare can be called with its
	// pid (true for crun and runc; false for runsc, whose sandbox's
	// network stack is inside the sentry).
	Prepare bool
}

// Create makes a sandbox whose commands run as containers of rt.
func Create(ctx context.Context, rt Runtime, cfg Config) (backend.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	init, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("create %s sandbox: find own binary for the container init: %w", rt.Kind, err)
	}
	if init, err = filepath.EvalSymlinks(init); err != nil {
		return nil, fmt.Errorf("create %s sandbox: %w", rt.Kind, err)
	}
	dir, err := os.MkdirTemp(cfg.StateDir, "kavach-"+rt.Kind.String()+"-")
	if err != nil {
		return nil, fmt.Errorf("create %s sandbox: %w", rt.Kind, err)
	}
	if st := innerStageFrom(ctx); st != nil && cfg.Inner == nil {
		cfg.Inner = st
	}
	s := &sandbox{rt: rt, cfg: cfg, dir: dir, init: init, procs: map[*proc]struct{}{}}
	if cfg.Populate != nil {
		root := filepath.Join(dir, "rootfs")
		if err := cfg.Populate(ctx, root); err != nil {
			_ = s.removeAll()
			return nil, fmt.Errorf("create %s sandbox %s: %w", rt.Kind, cfg.Spec.ID, err)
		}
		if err := CheckRootfs(rt.Kind, root); err != nil {
			_ = s.removeAll()
			return nil, err
		}
		s.cfg.Rootfs = root
	}
	if err := s.setup(); err != nil {
		_ = s.removeAll()
		return nil, fmt.Errorf("create %s sandbox %s: %w", rt.Kind, cfg.Spec.ID, err)
	}
	return s, nil
}

type sandbox struct {
	rt   Runtime
	cfg  Config
	dir  string // everything the sandbox owns on disk
	init string

	rootfs    string
	hostBinds []string
	workdir   string
	filesDir  string // on a tmpfs; "" when there are no files
	files     []FileBind

	mu        sync.Mutex
	n         int                // commands started; guarded by mu
	procs     map[*proc]struct{} // guarded by mu
	stopped   bool               // guarded by mu
	destroyed bool               // guarded by mu
}

// setup builds the root, the workdir and the files.
func (s *sandbox) setup() error {
	p := s.cfg.Spec.Policy
	if s.cfg.Rootfs != "" {
		s.rootfs = s.cfg.Rootfs
	} else {
		s.rootfs = filepath.Join(s.dir, "rootfs")
		binds, err := BuildRoot(s.rootfs)
		if err != nil {
			return err
		}
		s.hostBinds = binds
	}
	// Mount points must exist in the root before a read-only root is
	// remounted; for a built root they are made here.
	if s.cfg.Rootfs == "" {
		targets := []string{Workdir, StatusDir, filepath.Join(KavachDir, InitName)}
		if p.DataDir != "" {
			targets = append(targets, p.DataDir)
		}
		for _, m := range p.Mounts {
			targets = append(targets, m.Target)
		}
		for _, t := range targets {
			if err := os.MkdirAll(filepath.Join(s.rootfs, t), 0o755); err != nil {
				return err
			}
		}
		// The init is a file, so its mount point must be one too.
		ip := filepath.Join(s.rootfs, KavachDir, InitName)
		if err := os.Remove(ip); err != nil {
			return err
		}
		if err := os.WriteFile(ip, nil, 0o755); err != nil {
			return err
		}
	}
	s.workdir = s.cfg.Spec.Workdir
	if s.workdir == "" {
		s.workdir = filepath.Join(s.dir, "work")
		if err := os.Mkdir(s.workdir, 0o755); err != nil {
			return err
		}
	}
	if len(s.cfg.Spec.Files) > 0 {
		// /dev/shm is a tmpfs: credential files never touch a disk.
		d, err := os.MkdirTemp("/dev/shm", "kavach-files-")
		if err != nil {
			return fmt.Errorf("files: %w", err)
		}
		s.filesDir = d
		for i, f := range s.cfg.Spec.Files {
			if !filepath.IsAbs(f.Path) {
				return fmt.Errorf("file %q: not an absolute path", f.Path)
			}
			src := filepath.Join(d, strconv.Itoa(i))
			if err := os.WriteFile(src, f.Data, os.FileMode(f.Mode&0o777)); err != nil {
				return fmt.Errorf("files: %w", err)
			}
			s.files = append(s.files, FileBind{Source: src, Target: f.Path})
			if s.cfg.Rootfs == "" {
				t := filepath.Join(s.rootfs, f.Path)
				if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(t, nil, 0o400); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *sandbox) Enforced() backend.Enforced { return s.cfg.Enforced }

func (s *sandbox) state() error {
	switch {
	case s.destroyed:
		return backend.ErrDestroyed
	case s.stopped:
		return ErrStopped
	}
	return nil
}

// Start runs cmd as a new container with `<runtime> run`.
func (s *sandbox) Start(ctx context.Context, cmd *backend.Command) (backend.Proc, error) {
	if len(cmd.Args) == 0 {
		return nil, fmt.Errorf("start: empty command")
	}
	prepare := s.cfg.Spec.Prepare
	if prepare != nil && !s.cfg.Prepare {
		return nil, &backend.NotSupportedError{Kind: s.rt.Kind, Protection: "per-command prepare hook (egress proxy)",
			Reason: "the command's network stack is inside the runtime, not in a host network namespace"}
	}
	s.mu.Lock()
	if err := s.state(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.n++
	n := s.n
	s.mu.Unlock()

	id := containerID(s.rt.Kind)
	execDir := filepath.Join(s.dir, "exec-"+strconv.Itoa(n))
	status := filepath.Join(execDir, "status")
	if err := os.MkdirAll(status, 0o700); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	o := Options{Policy: s.cfg.Spec.Policy, NetNS: s.cfg.NetNS, CgroupsPath: "/kavach/" + id, Hostname: "kavach", PidsInKernel: s.cfg.PidsInKernel, CgroupFS: s.cfg.CgroupFS}
	l := Layout{Rootfs: s.rootfs, HostBinds: s.hostBinds, Init: s.init, Status: status, Workdir: s.workdir, Files: s.files}
	spec := Spec(o, l, Command{Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir, Profile: s.cfg.Enforced.Seccomp, Inner: s.cfg.Inner})
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if err := os.WriteFile(filepath.Join(execDir, "config.json"), data, 0o600); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}

	// The init reports how the command ended on a pipe of ours (see
	// StatusArg), passed in as descriptor StatusFD.
	stR, stW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	runArgs := []string{"run", "--preserve-fds", "1"}
	if s.rt.Kind == backend.GVisor {
		runArgs = []string{"run", "--pass-fd", fmt.Sprintf("%d:%d", 3, StatusFD)}
	}
	runArgs = append(runArgs, "--bundle", execDir)
	pidFile := filepath.Join(execDir, "pid")
	if prepare != nil {
		if err := syscall.Mkfifo(filepath.Join(status, "gate"), 0o600); err != nil {
			return nil, fmt.Errorf("start: gate: %w", err)
		}
		runArgs = append(runArgs, "--pid-file", pidFile)
	}
	c := s.rt.command(context.Background(), append(runArgs, id)...)
	c.Stdin, c.Stdout, c.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	// Its own process group, so a terminal's ^C reaches the caller, who
	// decides to kill, and not the runtime directly.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.ExtraFiles = []*os.File{stW}
	p := &proc{s: s, id: id, dir: execDir, status: status, statusR: stR, done: make(chan struct{})}

	s.mu.Lock()
	if err := s.state(); err != nil {
		s.mu.Unlock()
		stR.Close()
		stW.Close()
		_ = os.RemoveAll(execDir)
		return nil, err
	}
	err = c.Start()
	stW.Close()
	if err != nil {
		s.mu.Unlock()
		stR.Close()
		_ = os.RemoveAll(execDir)
		return nil, fmt.Errorf("start %s: %w", filepath.Base(s.rt.Path), err)
	}
	s.procs[p] = struct{}{}
	s.mu.Unlock()

	if t := s.cfg.Spec.Policy.Timeout(); t > 0 {
		p.timer = time.AfterFunc(t, func() { _ = p.Kill() })
	}
	go p.wait(c)
	if prepare != nil {
		if err := p.prepare(ctx, prepare, pidFile, filepath.Join(status, "gate")); err != nil {
			_ = p.Kill()
			<-p.done
			return nil, fmt.Errorf("start: prepare: %w", err)
		}
	}
	return p, nil
}

// prepare waits for the container's init, calls the Spec's Prepare with
// its pid, and opens the gate.
func (p *proc) prepare(ctx context.Context, fn func(context.Context, int) (func(), error), pidFile, gate string) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var pid int
	for pid == 0 {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(string(bytes.TrimSpace(b)))
		}
		if pid != 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("container ended before its init started: %w", ErrNoStatus)
		case <-tick.C:
		}
	}
	cleanup, err := fn(ctx, pid)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		cleanup()
		return fmt.Errorf("container ended during prepare: %w", ErrNoStatus)
	}
	p.cleanup = cleanup
	p.mu.Unlock()
	// The init may not have opened the gate yet: a non-blocking open for
	// writing fails with ENXIO until it has.
	for {
		fd, err := syscall.Open(gate, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err == nil {
			return syscall.Close(fd)
		}
		if err != syscall.ENXIO {
			return fmt.Errorf("open gate: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("container ended before the command started: %w", ErrNoStatus)
		case <-tick.C:
		}
	}
}

func containerID(k backend.Kind) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "kavach-" + k.String() + "-" + hex.EncodeToString(b[:])
}

func (s *sandbox) running() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]*proc, 0, len(s.procs))
	for p := range s.procs {
		ps = append(ps, p)
	}
	return ps
}

// Pause freezes every running container.
func (s *sandbox) Pause(ctx context.Context) error { return s.each(ctx, "pause") }

// Resume thaws every running container.
func (s *sandbox) Resume(ctx context.Context) error { return s.each(ctx, "resume") }

func (s *sandbox) each(ctx context.Context, verb string) error {
	s.mu.Lock()
	err := s.state()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range s.running() {
		if err := p.runtime(ctx, verb, p.id); err != nil {
			select {
			case <-p.done: // it ended meanwhile: nothing to freeze
			default:
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Stop kills every container and refuses new ones.
func (s *sandbox) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return s.killAll(ctx)
}

// Destroy kills every container and removes the sandbox's directories.
func (s *sandbox) Destroy(ctx context.Context) error {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return nil
	}
	s.destroyed = true
	s.mu.Unlock()
	if err := s.killAll(ctx); err != nil {
		return err
	}
	return s.removeAll()
}

func (s *sandbox) removeAll() error {
	var errs []error
	if s.filesDir != "" {
		errs = append(errs, os.RemoveAll(s.filesDir))
	}
	errs = append(errs, os.RemoveAll(s.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy %s sandbox: %w", s.rt.Kind, err)
	}
	return nil
}

func (s *sandbox) killAll(ctx context.Context) error {
	ps := s.running()
	for _, p := range ps {
		_ = p.Kill()
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-ctx.Done():
			return fmt.Errorf("kill %s containers: %w", s.rt.Kind, ctx.Err())
		}
	}
	return nil
}

type proc struct {
	s      *sandbox
	id     string
	dir    string
	status string
	// statusR is the read end of the init's status pipe.
	statusR *os.File
	timer   *time.Timer

	mu      sync.Mutex
	killed  bool   // guarded by mu
	cleanup func() // from Spec.Prepare; guarded by mu
	ended   bool   // the runtime has exited; guarded by mu

	done chan struct{}
	st   backend.ExitStatus // set before done is closed
	err  error              // set before done is closed
}

func (p *proc) runtime(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := p.s.rt.command(ctx, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(p.s.rt.Path), args[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

func (p *proc) wait(c *exec.Cmd) {
	err := c.Wait()
	if p.timer != nil {
		p.timer.Stop()
	}
	// The runtime has exited, and with it every process of the container:
	// the report, if the init wrote one, is in the pipe. The deadline only
	// guards against a runtime that left a holder of the write end behind.
	_ = p.statusR.SetReadDeadline(time.Now().Add(2 * time.Second))
	report, _ := io.ReadAll(io.LimitReader(p.statusR, 256))
	p.statusR.Close()
	p.st, p.err = p.result(report, err)
	p.mu.Lock()
	killed, cleanup := p.killed, p.cleanup
	p.ended = true
	p.mu.Unlock()
	if cleanup != nil {
		cleanup()
	}
	if killed || len(report) == 0 {
		// `run` deletes the container when its init returns; after a kill
		// or a runtime failure it may not have, so make sure.
		_ = p.runtime(context.Background(), "delete", "--force", p.id)
	}
	_ = os.RemoveAll(p.dir)
	p.s.mu.Lock()
	delete(p.s.procs, p)
	p.s.mu.Unlock()
	close(p.done)
}

func (p *proc) result(report []byte, runErr error) (backend.ExitStatus, error) {
	if len(report) > 0 {
		st, err := ParseStatus(report)
		if err != nil {
			return backend.ExitStatus{}, err
		}
		return backend.ExitStatus{Code: st.Code, Signal: syscall.Signal(st.Signal), OOM: st.OOM}, nil
	}
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if killed {
		// The init itself was killed, which took the whole container.
		return backend.ExitStatus{Signal: syscall.SIGKILL}, nil
	}
	var ee *exec.ExitError
	if errors.As(runErr, &ee) && ee.ExitCode() == 128+int(syscall.SIGKILL) {
		// Killed from outside (the OOM killer, or someone's kill -9 of
		// the init): the runtime reports the init's death as 137.
		return backend.ExitStatus{Signal: syscall.SIGKILL}, nil
	}
	return backend.ExitStatus{}, fmt.Errorf("%s run %s: %w (%v)", filepath.Base(p.s.rt.Path), p.id, ErrNoStatus, runErr)
}

func (p *proc) Wait() (backend.ExitStatus, error) {
	<-p.done
	return p.st, p.err
}

// Signal sends sig to the container's init, which forwards it to the
// command.
func (p *proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	return p.runtime(context.Background(), "kill", p.id, strconv.Itoa(int(sig)))
}

// Kill kills the container's init, and with it every process of the
// container. A container that is still being created cannot be killed
// yet, so Kill keeps trying in the background until the command ends.
func (p *proc) Kill() error {
	p.mu.Lock()
	if p.killed {
		p.mu.Unlock()
		return nil
	}
	p.killed = true
	p.mu.Unlock()
	go func() {
		for {
			_ = p.runtime(context.Background(), "kill", p.id, "KILL")
			select {
			case <-p.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return nil
}
