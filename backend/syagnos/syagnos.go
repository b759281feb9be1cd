package syagnos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/seccomp"
	"github.com/kavach-go/kavach/policy"
)

// DefaultImage is the original's image.
const DefaultImage = "ghcr.io/maccracken/sy-agnos:latest"

// Engines are the container engines tried, in order of preference:
// podman needs no daemon.
var Engines = []string{"podman", "docker"}

// Workdir is where the sandbox's workdir is mounted, and the commands'
// default working directory.
const Workdir = "/work"

// Backend runs commands in containers of a sy-agnos image.
type Backend struct {
	engine string // forced engine; "" tries Engines
	image  string

	mu    sync.Mutex
	found *found // the first engine and tier that worked; guarded by mu
}

type found struct {
	engine, path string
	tier         int
	// bpf says the engine's OCI runtime installs a raw BPF program given
	// in the run.oci.seccomp_bpf_data annotation (podman with crun), so
	// kavach's own compiled filter can be used.
	bpf bool
}

// Option configures a Backend.
type Option func(*Backend)

// WithEngine forces "podman" or "docker".
func WithEngine(name string) Option { return func(b *Backend) { b.engine = name } }

// WithImage uses image instead of DefaultImage. It must be in the
// engine's local store.
func WithImage(image string) Option { return func(b *Backend) { b.image = image } }

// New returns the sy-agnos backend.
func New(opts ...Option) *Backend {
	b := &Backend{image: DefaultImage}
	for _, o := range opts {
		o(b)
	}
	return b
}

var _ backend.Backend = (*Backend)(nil)

// Kind returns backend.SyAgnos.
func (*Backend) Kind() backend.Kind { return backend.SyAgnos }

// Available returns nil when an engine runs and holds the image.
func (b *Backend) Available(ctx context.Context) error {
	_, err := b.find(ctx)
	return err
}

// Tier returns the image's tier (TierUnknown .. TierTPMMeasured).
func (b *Backend) Tier(ctx context.Context) (int, error) {
	f, err := b.find(ctx)
	return f.tier, err
}

// find picks the engine and reads the image's tier, once.
func (b *Backend) find(ctx context.Context) (found, error) {
	if err := ctx.Err(); err != nil {
		return found{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.found != nil {
		return *b.found, nil
	}
	engines := Engines
	if b.engine != "" {
		engines = []string{b.engine}
	}
	var reasons []string
	for _, e := range engines {
		path, err := exec.LookPath(e)
		if err != nil {
			reasons = append(reasons, e+" not found on PATH")
			continue
		}
		if out, err := engineOutput(ctx, path, "image", "inspect", "--format", "{{.Id}}", b.image); err != nil {
			if strings.Contains(out, "Cannot connect") || strings.Contains(out, "daemon") {
				reasons = append(reasons, fmt.Sprintf("%s: daemon not reachable: %s", e, out))
				continue
			}
			reasons = append(reasons, fmt.Sprintf("%s: image %s not usable (kavach never pulls; build, load or pull it first): %s", e, b.image, out))
			continue
		}
		tier := TierUnknown
		args := append([]string{"run", "--rm", "--network", "none"}, ulimits()...)
		if out, err := engineOutput(ctx, path, append(args, "--entrypoint", "cat", b.image, "/etc/sy-agnos-release")...); err == nil {
			tier = ParseRelease([]byte(out))
		} else if ctx.Err() != nil {
			return found{}, ctx.Err()
		} else if strings.Contains(out, "Error") && !strings.Contains(out, "No such file") {
			reasons = append(reasons, fmt.Sprintf("%s: cannot run image %s: %s", e, b.image, out))
			continue
		}
		bpf := false
		if e == "podman" {
			if out, err := engineOutput(ctx, path, "info", "--format", "{{.Host.OCIRuntime.Name}}"); err == nil && out == "crun" {
				bpf = true
			}
		}
		b.found = &found{engine: e, path: path, tier: tier, bpf: bpf}
		return *b.found, nil
	}
	return found{}, backend.Unavailable(backend.SyAgnos, "%s", strings.Join(reasons, "; "))
}

func engineOutput(ctx context.Context, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return strings.TrimSpace(out.String()), err
}

// ulimits keeps the container's open-file and process rlimits within the
// caller's own hard limits: engines default to raising them, which fails
// ("setrlimit: Operation not permitted") where the caller may not.
func ulimits() []string {
	var nofile, nproc unix.Rlimit
	var args []string
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile) == nil {
		h := min(nofile.Max, 1<<20)
		args = append(args, "--ulimit", fmt.Sprintf("nofile=%d:%d", min(h, 1024), h))
	}
	if unix.Getrlimit(unix.RLIMIT_NPROC, &nproc) == nil {
		// podman's documented default, 32768, and never above the
		// caller's: higher values were refused here even below the
		// caller's hard limit.
		h := min(nproc.Max, 32768)
		args = append(args, "--ulimit", fmt.Sprintf("nproc=%d:%d", h, h))
	}
	return args
}

// Plan reports what a sandbox for p enforces, or the error Create would
// return.
func (b *Backend) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	f, err := b.find(ctx)
	if err != nil {
		return backend.Enforced{}, err
	}
	e := backend.Enforced{
		Backend:      backend.SyAgnos,
		Namespaces:   []string{"pid", "mount", "ipc", "uts"},
		Root:         "image " + b.image + " (" + f.engine + ")",
		ReadOnlyRoot: p.ReadOnlyRootfs,
		NoNewPrivs:   true,
		Capabilities: []string{},
		Network:      backend.NetworkNone,
		SyAgnosTier:  f.tier,
	}
	notSupported := func(protection, reason string) error {
		if !p.BestEffort {
			return &backend.NotSupportedError{Kind: backend.SyAgnos, Protection: protection, Reason: reason}
		}
		e.Downgrades = append(e.Downgrades, protection+": "+reason)
		return nil
	}
	switch {
	case !p.Network.Enabled:
		e.Namespaces = append(e.Namespaces, "net")
	case len(p.Network.AllowedHosts) > 0:
		if err := notSupported("network allowlist", "the egress proxy is not wired into sy-agnos containers; the network stays off"); err != nil {
			return backend.Enforced{}, err
		}
		e.Namespaces = append(e.Namespaces, "net")
	default:
		e.Namespaces = append(e.Namespaces, "net")
		e.Network = "bridge"
	}
	if prof := p.Profile(); prof != "" {
		if f.bpf {
			flt, err := seccomp.Build(prof)
			if err != nil {
				return backend.Enforced{}, fmt.Errorf("plan sy-agnos: %w", err)
			}
			e.Seccomp, e.SeccompRules = prof, flt.Rules()
		} else if err := notSupported("seccomp profile "+prof, f.engine+" applies its own default seccomp profile and its runtime takes no raw BPF program (only podman with crun does)"); err != nil {
			return backend.Enforced{}, err
		}
	}
	if len(p.LandlockRules) > 0 {
		if err := notSupported("landlock rules", "not applied inside sy-agnos containers"); err != nil {
			return backend.Enforced{}, err
		}
	}
	if p.MemoryLimitMB > 0 || p.CPULimit > 0 || p.MaxPids > 0 {
		h, err := cgroup.Detect()
		if err != nil {
			if err := notSupported("cgroup limits", err.Error()); err != nil {
				return backend.Enforced{}, err
			}
		} else {
			e.CgroupVersion = h.Version
			e.MemoryLimitMB, e.CPULimit, e.MaxPids = p.MemoryLimitMB, p.CPULimit, p.MaxPids
		}
	}
	return e, nil
}

// Create makes a sandbox; each command runs as its own container.
func (b *Backend) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	f, err := b.find(ctx)
	if err != nil {
		return nil, err
	}
	e, err := b.Plan(ctx, spec.Policy)
	if err != nil {
		return nil, err
	}
	if spec.Prepare != nil {
		return nil, &backend.NotSupportedError{Kind: backend.SyAgnos, Protection: "per-command prepare hook (egress proxy)", Reason: "not wired for container engines"}
	}
	dir, err := os.MkdirTemp("", "kavach-sy-agnos-")
	if err != nil {
		return nil, fmt.Errorf("create sy-agnos sandbox: %w", err)
	}
	s := &sandbox{engine: f.path, image: b.image, spec: spec, enforced: e, dir: dir, procs: map[*proc]struct{}{}}
	if e.Seccomp != "" {
		flt, err := seccomp.Build(e.Seccomp)
		if err != nil {
			_ = s.remove()
			return nil, fmt.Errorf("create sy-agnos sandbox: %w", err)
		}
		s.bpf = bpfBase64(flt)
	}
	if err := s.setup(); err != nil {
		_ = s.remove()
		return nil, fmt.Errorf("create sy-agnos sandbox %s: %w", spec.ID, err)
	}
	return s, nil
}

type sandbox struct {
	engine   string
	image    string
	spec     backend.Spec
	enforced backend.Enforced
	dir      string
	workdir  string
	filesDir string
	volumes  []string // -v arguments
	bpf      string   // base64 of the seccomp program, "" for none

	mu        sync.Mutex
	procs     map[*proc]struct{} // guarded by mu
	stopped   bool               // guarded by mu
	destroyed bool               // guarded by mu
}

func (s *sandbox) setup() error {
	p := s.spec.Policy
	s.workdir = s.spec.Workdir
	if s.workdir == "" {
		s.workdir = filepath.Join(s.dir, "work")
		if err := os.Mkdir(s.workdir, 0o755); err != nil {
			return err
		}
	}
	s.volumes = append(s.volumes, s.workdir+":"+Workdir+":rw")
	if p.DataDir != "" {
		s.volumes = append(s.volumes, p.DataDir+":"+p.DataDir+":rw")
	}
	for _, m := range p.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		s.volumes = append(s.volumes, m.Source+":"+m.Target+":"+mode)
	}
	if len(s.spec.Files) > 0 {
		// /dev/shm is a tmpfs: credential files never touch a disk.
		d, err := os.MkdirTemp("/dev/shm", "kavach-files-")
		if err != nil {
			return err
		}
		s.filesDir = d
		for i, f := range s.spec.Files {
			src := filepath.Join(d, strconv.Itoa(i))
			if err := os.WriteFile(src, f.Data, os.FileMode(f.Mode&0o777)); err != nil {
				return err
			}
			s.volumes = append(s.volumes, src+":"+f.Path+":ro")
		}
	}
	return nil
}

func (s *sandbox) Enforced() backend.Enforced { return s.enforced }

func (s *sandbox) state() error {
	switch {
	case s.destroyed:
		return backend.ErrDestroyed
	case s.stopped:
		return ErrStopped
	}
	return nil
}

// runArgs returns the engine's arguments for one command.
func (s *sandbox) runArgs(name string, cmd *backend.Command) []string {
	p := s.spec.Policy
	a := []string{"run", "--rm", "--name", name, "--init", "--unsetenv-all",
		"--cap-drop=ALL", "--security-opt=no-new-privileges", "--log-driver=none"}
	a = append(a, ulimits()...)
	if s.enforced.Seccomp != "" {
		// crun replaces the engine's default profile with this program.
		a = append(a, "--annotation", "run.oci.seccomp_bpf_data="+s.bpf)
	}
	if s.enforced.Network == "bridge" {
		a = append(a, "--network", "bridge")
	} else {
		a = append(a, "--network", "none")
	}
	if p.ReadOnlyRootfs {
		a = append(a, "--read-only")
	}
	if p.MemoryLimitMB > 0 {
		m := strconv.FormatUint(p.MemoryLimitMB, 10) + "m"
		a = append(a, "--memory", m, "--memory-swap", m)
	}
	if p.CPULimit > 0 {
		a = append(a, "--cpus", strconv.FormatFloat(p.CPULimit, 'f', -1, 64))
	}
	if p.MaxPids > 0 {
		a = append(a, "--pids-limit", strconv.FormatUint(uint64(p.MaxPids), 10))
	}
	for _, v := range s.volumes {
		a = append(a, "-v", v)
	}
	dir := cmd.Dir
	if dir == "" {
		dir = Workdir
	}
	a = append(a, "-w", dir)
	if cmd.Stdin != nil {
		a = append(a, "-i")
	}
	for _, kv := range cmd.Env {
		a = append(a, "-e", kv)
	}
	a = append(a, "--entrypoint", cmd.Args[0], s.image)
	return append(a, cmd.Args[1:]...)
}

// Start runs cmd as a new container of the image.
func (s *sandbox) Start(ctx context.Context, cmd *backend.Command) (backend.Proc, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("start: empty command")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "kavach-sy-agnos-" + hex.EncodeToString(b[:])
	c := exec.Command(s.engine, s.runArgs(name, cmd)...)
	c.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	c.Stdin, c.Stdout, c.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{s: s, name: name, done: make(chan struct{})}

	s.mu.Lock()
	if err := s.state(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := c.Start(); err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(s.engine), err)
	}
	s.procs[p] = struct{}{}
	s.mu.Unlock()
	if t := s.spec.Policy.Timeout(); t > 0 {
		p.timer = time.AfterFunc(t, func() { _ = p.Kill() })
	}
	go p.wait(c)
	return p, nil
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
func (s *sandbox) Resume(ctx context.Context) error { return s.each(ctx, "unpause") }

func (s *sandbox) each(ctx context.Context, verb string) error {
	s.mu.Lock()
	err := s.state()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range s.running() {
		if out, err := engineOutput(ctx, s.engine, verb, p.name); err != nil {
			select {
			case <-p.done:
			default:
				errs = append(errs, fmt.Errorf("%s %s: %w: %s", filepath.Base(s.engine), verb, err, out))
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
	return s.remove()
}

func (s *sandbox) remove() error {
	var errs []error
	if s.filesDir != "" {
		errs = append(errs, os.RemoveAll(s.filesDir))
	}
	errs = append(errs, os.RemoveAll(s.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy sy-agnos sandbox: %w", err)
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
			return fmt.Errorf("kill sy-agnos containers: %w", ctx.Err())
		}
	}
	return nil
}

type proc struct {
	s     *sandbox
	name  string
	timer *time.Timer

	mu     sync.Mutex
	killed bool // guarded by mu

	done chan struct{}
	st   backend.ExitStatus // set before done is closed
	err  error              // set before done is closed
}

func (p *proc) wait(c *exec.Cmd) {
	err := c.Wait()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if killed {
		// --rm removes the container when the engine sees it exit; after a
		// kill the client may have gone first, so make sure.
		_, _ = engineOutput(context.Background(), p.s.engine, "rm", "--force", p.name)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() > 128 && ee.ExitCode() < 128+65:
		p.st = backend.ExitStatus{Signal: syscall.Signal(ee.ExitCode() - 128)}
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		p.st = backend.ExitStatus{Code: ee.ExitCode()}
	case killed:
		p.st = backend.ExitStatus{Signal: syscall.SIGKILL}
	default:
		p.err = fmt.Errorf("%s run %s: %w", filepath.Base(p.s.engine), p.name, err)
	}
	p.s.mu.Lock()
	delete(p.s.procs, p)
	p.s.mu.Unlock()
	close(p.done)
}

func (p *proc) Wait() (backend.ExitStatus, error) {
	<-p.done
	return p.st, p.err
}

// Signal sends sig to the command through the engine and its init.
func (p *proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	if out, err := engineOutput(context.Background(), p.s.engine, "kill", "--signal", strconv.Itoa(int(sig)), p.name); err != nil {
		return fmt.Errorf("%s kill %s: %w: %s", filepath.Base(p.s.engine), p.name, err, out)
	}
	return nil
}

// Kill kills the container. The container may still be being created,
// so Kill keeps trying in the background until the command ends.
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
			_, _ = engineOutput(context.Background(), p.s.engine, "kill", "--signal", "KILL", p.name)
			select {
			case <-p.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return nil
}

// bpfBase64 encodes f's program as crun's run.oci.seccomp_bpf_data wants
// it: the struct sock_filter array in the machine's byte order (both
// architectures kavach compiles filters for are little-endian), base64.
func bpfBase64(f *seccomp.Filter) string {
	var b []byte
	for _, in := range f.Program() {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return base64.StdEncoding.EncodeToString(b)
}
