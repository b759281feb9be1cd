package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
)

// pagesPerMB is the number of 64 KiB wasm pages in a MiB.
const pagesPerMB = 16

// maxMemoryMB is the most a wasm32 module can address: 65536 pages of
// 64 KiB.
const maxMemoryMB = 4096

// Backend runs WASI modules with wazero. It is safe for concurrent use.
type Backend struct {
	cacheDir string

	cacheOnce sync.Once
	cache     wazero.CompilationCache
}

// Option configures a Backend.
type Option func(*Backend)

// WithCacheDir sets the directory of the on-disk compilation cache. An
// empty dir keeps compiled modules in memory only, for the life of the
// Backend. The default is kavach/wazero under os.UserCacheDir.
func WithCacheDir(dir string) Option { return func(b *Backend) { b.cacheDir = dir } }

// New returns the wasm backend.
func New(opts ...Option) *Backend {
	b := &Backend{}
	if d, err := os.UserCacheDir(); err == nil {
		b.cacheDir = filepath.Join(d, "kavach", "wazero")
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

var _ backend.Backend = (*Backend)(nil)

// Kind returns backend.Wasm.
func (*Backend) Kind() backend.Kind { return backend.Wasm }

// Available returns nil: wazero is pure Go and compiled in, and falls back
// to its interpreter where it has no compiler for the architecture.
func (*Backend) Available(ctx context.Context) error { return ctx.Err() }

// compilationCache returns the shared cache, on disk when it can be made
// there. A cache directory that cannot be created costs only speed, so
// it falls back to memory rather than failing every Create.
func (b *Backend) compilationCache() wazero.CompilationCache {
	b.cacheOnce.Do(func() {
		if b.cacheDir != "" {
			if c, err := wazero.NewCompilationCacheWithDir(b.cacheDir); err == nil {
				b.cache = c
				return
			}
		}
		b.cache = wazero.NewCompilationCache()
	})
	return b.cache
}

// Plan reports what a sandbox for p enforces.
func (*Backend) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	if err := ctx.Err(); err != nil {
		return backend.Enforced{}, err
	}
	return plan(p)
}

func plan(p policy.Policy) (backend.Enforced, error) {
	e := backend.Enforced{
		Backend: backend.Wasm,
		// The module has no file system but its preopens: nothing outside
		// the policy's mounts exists for it, let alone is writable.
		Root:         "wasi preopens",
		ReadOnlyRoot: true,
		Network:      backend.NetworkNone,
	}
	if p.MemoryLimitMB > 0 {
		e.MemoryLimitMB = min(p.MemoryLimitMB, maxMemoryMB)
	}
	if p.CPULimit > 0 {
		// A WASI preview 1 module has one thread, run on one goroutine:
		// it can never use more than one CPU, and nothing can hold it to
		// less.
		if p.CPULimit < 1 {
			if !p.BestEffort {
				return backend.Enforced{}, &backend.NotSupportedError{Kind: backend.Wasm, Protection: fmt.Sprintf("cpu limit %g", p.CPULimit),
					Reason: "a wasm module runs on one thread and wazero cannot throttle it below one CPU"}
			}
			e.Downgrades = append(e.Downgrades, fmt.Sprintf("cpu limit %g: held to one CPU (one thread), not less", p.CPULimit))
		}
		e.CPULimit = 1
	}
	if p.MaxPids > 0 {
		// The module is one instance and WASI preview 1 cannot start
		// another.
		e.MaxPids = 1
	}
	if p.SeccompEnabled {
		e.Unenforced = append(e.Unenforced, "seccomp: a wasm module makes no system calls, only WASI host function calls, so there is nothing to filter")
	}
	if len(p.LandlockRules) > 0 {
		e.Unenforced = append(e.Unenforced, "landlock rules: the module sees only the directories preopened from the policy's mounts")
	}
	if p.Network.Enabled {
		e.Unenforced = append(e.Unenforced, "network: WASI preview 1 has no sockets, so the module has no network even where the policy allows it")
	}
	return e, nil
}

// Create makes a sandbox: a wazero runtime with WASI and the policy's
// memory cap. Every mount source must exist.
func (b *Backend) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	e, err := b.Plan(ctx, spec.Policy)
	if err != nil {
		return nil, err
	}
	mounts, err := preopens(spec)
	if err != nil {
		return nil, err
	}
	if len(spec.Files) > 0 {
		return nil, &backend.NotSupportedError{Kind: backend.Wasm, Protection: "files placed in the sandbox", Reason: "the wasm backend has no in-sandbox tmpfs to put them on"}
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(b.compilationCache()).
		WithCloseOnContextDone(true)
	if e.MemoryLimitMB > 0 {
		cfg = cfg.WithMemoryLimitPages(uint32(e.MemoryLimitMB * pagesPerMB))
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("create wasm sandbox %s: instantiate wasi: %w", spec.ID, err)
	}
	return &sandbox{rt: rt, enforced: e, mounts: mounts, timeout: spec.Policy.Timeout(), procs: map[*proc]struct{}{}}, nil
}

// mount is one preopened directory.
type mount struct {
	host, guest string
	readOnly    bool
}

// preopens lists the directories a module sees: the policy's mounts, its
// data_dir (read-write at the same path) and the spec's workdir when one
// is given (read-write at the same path).
func preopens(spec backend.Spec) ([]mount, error) {
	var ms []mount
	for _, m := range spec.Policy.Mounts {
		ms = append(ms, mount{host: m.Source, guest: m.Target, readOnly: m.ReadOnly})
	}
	if d := spec.Policy.DataDir; d != "" {
		ms = append(ms, mount{host: d, guest: d})
	}
	if spec.Workdir != "" {
		ms = append(ms, mount{host: spec.Workdir, guest: spec.Workdir})
	}
	for _, m := range ms {
		if !filepath.IsAbs(m.guest) {
			return nil, fmt.Errorf("create wasm sandbox: mount target %q: %w", m.guest, errRelative)
		}
		st, err := os.Stat(m.host)
		if err != nil {
			return nil, fmt.Errorf("create wasm sandbox: mount source: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("create wasm sandbox: mount source %s: %w", m.host, errNotDir)
		}
	}
	return ms, nil
}

var (
	errRelative = errors.New("not an absolute path")
	errNotDir   = errors.New("not a directory (wasi preopens are directories)")
)

type sandbox struct {
	rt       wazero.Runtime
	enforced backend.Enforced
	mounts   []mount
	timeout  time.Duration

	mu        sync.Mutex
	procs     map[*proc]struct{} // running commands; guarded by mu
	stopped   bool               // guarded by mu
	destroyed bool               // guarded by mu
}

func (s *sandbox) Enforced() backend.Enforced { return s.enforced }

// hostPath maps a module path to the host: a path under a mount's target
// is read through the mount, anything else is a host path.
func (s *sandbox) hostPath(p string) string {
	best := -1
	for i, m := range s.mounts {
		if rel, err := filepath.Rel(m.guest, p); err == nil && filepath.IsAbs(p) && rel != ".." && !strings.HasPrefix(rel, "../") {
			if best < 0 || len(m.guest) > len(s.mounts[best].guest) {
				best = i
			}
		}
	}
	if best < 0 {
		return p
	}
	rel, _ := filepath.Rel(s.mounts[best].guest, p)
	return filepath.Join(s.mounts[best].host, rel)
}

// Start compiles the module (from the cache when it was seen before) and
// runs its _start function on a new goroutine.
func (s *sandbox) Start(ctx context.Context, cmd *backend.Command) (backend.Proc, error) {
	if len(cmd.Args) == 0 {
		return nil, fmt.Errorf("start wasm: %w: empty command", ErrNotWasm)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	path := s.hostPath(cmd.Args[0])
	code, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return nil, &backend.ExecError{Path: cmd.Args[0], Err: err}
		}
		return nil, fmt.Errorf("start wasm %s: %w", cmd.Args[0], err)
	}
	if !bytes.HasPrefix(code, []byte("\x00asm")) {
		return nil, &backend.ExecError{Path: cmd.Args[0], Err: fmt.Errorf("%w: no \\0asm magic (%w)", ErrNotWasm, os.ErrPermission)}
	}
	compiled, err := s.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("start wasm %s: compile: %w", cmd.Args[0], err)
	}

	p := &proc{killed: make(chan struct{}), done: make(chan struct{})}
	runCtx, cancel := context.WithCancelCause(context.Background())
	p.cancel = cancel
	if s.timeout > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeoutCause(runCtx, s.timeout, errTimeout)
		p.stopTimer = stop
	}
	p.ctxDone = runCtx.Done()
	cfg := wazero.NewModuleConfig().
		// An empty name lets many instances of one module run at once.
		WithName("").
		WithArgs(cmd.Args...).
		WithStdout(cmd.Stdout).
		WithStderr(cmd.Stderr).
		WithStdin(p.stdin(cmd.Stdin)).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(p.nanosleep).
		WithRandSource(rand.Reader).
		WithFSConfig(s.fsConfig())
	for _, kv := range cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}

	s.mu.Lock()
	if s.destroyed || s.stopped {
		s.mu.Unlock()
		_ = compiled.Close(ctx)
		p.release()
		return nil, s.check()
	}
	s.procs[p] = struct{}{}
	s.mu.Unlock()

	go func() {
		defer close(p.done)
		defer p.release()
		defer func() { _ = compiled.Close(context.Background()) }()
		defer func() {
			s.mu.Lock()
			delete(s.procs, p)
			s.mu.Unlock()
		}()
		mod, err := s.rt.InstantiateModule(runCtx, compiled, cfg)
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		p.status = p.statusOf(runCtx, err, cmd.Stderr)
	}()
	return p, nil
}

func (s *sandbox) fsConfig() wazero.FSConfig {
	fc := wazero.NewFSConfig()
	for _, m := range s.mounts {
		if m.readOnly {
			fc = fc.WithReadOnlyDirMount(m.host, m.guest)
		} else {
			fc = fc.WithDirMount(m.host, m.guest)
		}
	}
	return fc
}

func (s *sandbox) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.destroyed:
		return backend.ErrDestroyed
	case s.stopped:
		return ErrStopped
	}
	return nil
}

// Pause is not supported: wazero cannot suspend a running module.
func (s *sandbox) Pause(context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	return &backend.NotSupportedError{Kind: backend.Wasm, Protection: "pause", Reason: "wazero cannot suspend a running module"}
}

// Resume is not supported, as Pause is not.
func (s *sandbox) Resume(context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	return &backend.NotSupportedError{Kind: backend.Wasm, Protection: "resume", Reason: "wazero cannot suspend a running module"}
}

// Stop kills every running module and refuses new ones.
func (s *sandbox) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return s.killAll(ctx)
}

// Destroy kills every running module, waits for them and closes the
// runtime, which frees every module's memory.
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
	if err := s.rt.Close(ctx); err != nil {
		return fmt.Errorf("destroy wasm sandbox: %w", err)
	}
	return nil
}

func (s *sandbox) killAll(ctx context.Context) error {
	s.mu.Lock()
	ps := make([]*proc, 0, len(s.procs))
	for p := range s.procs {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		_ = p.Kill()
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-ctx.Done():
			return fmt.Errorf("kill wasm modules: %w", ctx.Err())
		}
	}
	return nil
}

// errTimeout is the cancellation cause when the policy's timeout ends a
// module.
var errTimeout = errors.New("wasm module timed out")

// signalError is the cancellation cause when a signal ends a module.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "killed by " + e.sig.String() }

type proc struct {
	cancel    context.CancelCauseFunc
	stopTimer context.CancelFunc

	killOnce sync.Once
	killed   chan struct{}   // closed by the first Kill or Signal that ends the module
	ctxDone  <-chan struct{} // closed on kill and on timeout
	stdinR   *io.PipeReader

	done   chan struct{}
	status backend.ExitStatus // set before done is closed
}

// stdin returns the module's stdin. A non-nil reader is pumped through a
// pipe so that Kill can unblock a module waiting for input, which context
// cancellation alone cannot.
func (p *proc) stdin(r io.Reader) io.Reader {
	if r == nil {
		return bytes.NewReader(nil)
	}
	pr, pw := io.Pipe()
	p.stdinR = pr
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	return pr
}

// nanosleep sleeps like the host's, but wakes when the module is killed
// or times out, so a sleeping module ends at once rather than after its
// sleep.
func (p *proc) nanosleep(ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.ctxDone:
	}
}

func (p *proc) release() {
	if p.stopTimer != nil {
		p.stopTimer()
	}
	p.cancel(nil)
	if p.stdinR != nil {
		_ = p.stdinR.Close()
	}
}

// statusOf turns the result of running _start into an exit status.
func (p *proc) statusOf(ctx context.Context, err error, stderr io.Writer) backend.ExitStatus {
	var exit *sys.ExitError
	switch {
	case err == nil:
		return backend.ExitStatus{}
	case errors.As(err, &exit) && exit.ExitCode() != sys.ExitCodeContextCanceled && exit.ExitCode() != sys.ExitCodeDeadlineExceeded:
		return backend.ExitStatus{Code: int(exit.ExitCode())}
	}
	var se signalError
	if cause := context.Cause(ctx); errors.As(cause, &se) {
		return backend.ExitStatus{Signal: se.sig}
	} else if errors.Is(cause, errTimeout) {
		return backend.ExitStatus{Signal: syscall.SIGKILL}
	}
	// A trap (unreachable, out-of-bounds access, stack overflow) ends the
	// module abnormally, as SIGABRT would a process; its message goes to
	// the module's stderr so the caller can see why.
	fmt.Fprintf(stderr, "kavach: wasm trap: %v\n", err)
	return backend.ExitStatus{Signal: syscall.SIGABRT}
}

// Wait returns when the module has ended.
func (p *proc) Wait() (backend.ExitStatus, error) {
	<-p.done
	return p.status, nil
}

// Signal ends the module for the terminating signals; signal 0 checks
// that it still runs. A module has no signal handlers, so other signals
// are refused.
func (p *proc) Signal(sig syscall.Signal) error {
	switch sig {
	case 0:
		select {
		case <-p.done:
			return os.ErrProcessDone
		default:
			return nil
		}
	case syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT:
		p.kill(sig)
		return nil
	}
	return &backend.NotSupportedError{Kind: backend.Wasm, Protection: "signal " + sig.String(), Reason: "a wasm module has no signal handlers"}
}

// Kill ends the module. It is idempotent.
func (p *proc) Kill() error {
	p.kill(syscall.SIGKILL)
	return nil
}

func (p *proc) kill(sig syscall.Signal) {
	p.killOnce.Do(func() {
		p.cancel(signalError{sig})
		close(p.killed)
		if p.stdinR != nil {
			_ = p.stdinR.CloseWithError(signalError{sig})
		}
	})
}
