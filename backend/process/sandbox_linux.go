package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/procinit"
	"github.com/kavach-go/kavach/policy"
)

// defaultTmpMB is the size of /tmp when the policy sets none.
const defaultTmpMB = 64

type sandbox struct {
	spec     backend.Spec
	pl       *plan
	enforced backend.Enforced
	stateDir string
	tmpMount string // host tmpfs mounted for /tmp, unmounted on Destroy
	cg       *cgroup.Cgroup
	base     initConfig
	root     bool

	// cgMu is held for reading while an init is being started inside the
	// cgroup (a thread of kavach is briefly a member, see
	// cgroup.StartIn) and for writing by what freezes or kills the group.
	cgMu   sync.RWMutex
	paused bool // guarded by cgMu
	// initOutside is the v1 controller the init process stays out of
	// ("pids"); pidsTasks is the file its forking thread joins it with.
	initOutside string
	pidsTasks   string

	// inflight counts commands from Start until their Wait has finished,
	// so that Destroy outlasts every one, including those that were
	// starting while it began.
	inflight sync.WaitGroup

	mu        sync.Mutex
	next      *spareFuture       // guarded by mu; the spare init, see spare_linux.go
	starts    int                // guarded by mu; commands started
	procs     map[*proc]struct{} // guarded by mu
	stopped   bool               // guarded by mu
	destroyed bool               // guarded by mu
}

// Create builds a sandbox: its state directory, workdir, /tmp and cgroup.
// Each Start then runs a fresh init inside new namespaces; Create starts
// the first one in the background as a spare (see spare_linux.go), so
// that it is ready, its root built, when the first command comes.
func (b *Backend) Create(ctx context.Context, spec backend.Spec) (_ backend.Sandbox, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateLayout(spec); err != nil {
		return nil, fmt.Errorf("create process sandbox: %w", err)
	}
	pl, err := b.plan(spec.Policy, WorkdirPath)
	if err != nil {
		return nil, err
	}
	h := hostOnce()
	s := &sandbox{spec: spec, pl: pl, enforced: pl.enforced, root: h.root, procs: map[*proc]struct{}{}}
	defer func() {
		if err != nil {
			_ = s.release(context.WithoutCancel(ctx))
		}
	}()
	name := safeName(spec.ID)
	base := b.opts.stateDir
	if base == "" {
		base = h.stateBase
	}
	if _, done := b.swept.LoadOrStore(base, true); !done {
		sweep(base)
	}
	s.stateDir, err = os.MkdirTemp(base, "kavach-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("create process sandbox: %w", err)
	}
	// The init runs as an unprivileged host uid: it must be able to
	// traverse (not list) the state directory to reach its mount points.
	if err := os.Chmod(s.stateDir, 0o711); err != nil {
		return nil, fmt.Errorf("create process sandbox: %w", err)
	}
	rootDir := filepath.Join(s.stateDir, "root")
	if err := os.Mkdir(rootDir, 0o755); err != nil {
		return nil, fmt.Errorf("create process sandbox: %w", err)
	}
	workdir := spec.Workdir
	if workdir == "" {
		workdir = filepath.Join(s.stateDir, "work")
		if err := os.Mkdir(workdir, 0o755); err != nil {
			return nil, fmt.Errorf("create process sandbox: %w", err)
		}
		if h.root {
			if err := os.Chown(workdir, HostIDBase+SandboxUID, HostIDBase+SandboxUID); err != nil {
				return nil, fmt.Errorf("create process sandbox: %w", err)
			}
		}
	} else if fi, err := os.Stat(workdir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("create process sandbox: workdir %s: not a directory (%v)", workdir, err)
	}
	tmpMB := spec.Policy.TmpSizeMB
	if tmpMB == 0 {
		tmpMB = defaultTmpMB
	}
	tmpDir := ""
	if h.root {
		// A tmpfs per sandbox keeps /tmp across its commands, bounded.
		tmpDir = filepath.Join(s.stateDir, "tmp")
		if err := os.Mkdir(tmpDir, 0o755); err != nil {
			return nil, fmt.Errorf("create process sandbox: %w", err)
		}
		opts := fmt.Sprintf("size=%dm,mode=1777", tmpMB)
		if err := unix.Mount("kavach-tmp", tmpDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return nil, fmt.Errorf("create process sandbox: mount /tmp: %w", err)
		}
		s.tmpMount = tmpDir
	}
	if pl.useCg {
		cgHost, _ := b.cgroupHost(h)
		s.cg, err = cgroup.New(cgHost, name+"-"+randHex(4), pl.limits)
		if err != nil {
			return nil, fmt.Errorf("create process sandbox: %w", err)
		}
		if s.cg.Version() == 1 && h.root {
			s.pidsTasks, err = s.cg.DelegateTasks("pids", HostIDBase, HostIDBase)
			if err != nil {
				return nil, fmt.Errorf("create process sandbox: %w", err)
			}
			s.initOutside = "pids"
		}
	}
	var cgDirs []string
	if s.cg != nil {
		cgDirs = s.cg.Dirs()
	}
	if err := writeOwner(s.stateDir, cgDirs); err != nil {
		return nil, fmt.Errorf("create process sandbox: %w", err)
	}
	uid, gid := 0, 0
	if h.root {
		uid, gid = SandboxUID, SandboxUID
	}
	s.base = initConfig{
		Root:      rootDir,
		Entries:   h.entries,
		Etc:       etcFiles(h, pl),
		Workdir:   workdir,
		TmpDir:    tmpDir,
		TmpSizeMB: tmpMB,
		DataDir:   spec.Policy.DataDir,
		Mounts:    initMounts(spec.Policy.Mounts),
		Files:     initFiles(spec.Files),
		OwnNet:    pl.ownNet,
		Root0:     !h.root,
		UID:       uid,
		GID:       gid,
		LastCap:   h.lastCap,
		Landlock:  pl.landlock,
		Seccomp:   pl.seccomp,
		Rlimits:   pl.rlimits,
		WaitGo:    spec.Prepare != nil,
	}
	// The first command finds its init started, or on its way.
	s.refill()
	return s, nil
}

// initMounts converts the policy's mounts to the init's wire form.
func initMounts(ms []policy.Mount) []procinit.Mount {
	out := make([]procinit.Mount, 0, len(ms))
	for _, m := range ms {
		out = append(out, procinit.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out
}

// initFiles converts the spec's files to the init's wire form. The data
// is copied: every init (a spare among them, started after Create has
// returned) writes the files again, while the caller may clear its copy
// once Create returns (kavach does, for credentials). release clears
// this one.
func initFiles(fs []backend.File) []procinit.File {
	out := make([]procinit.File, 0, len(fs))
	for _, f := range fs {
		out = append(out, procinit.File{Path: f.Path, Data: bytes.Clone(f.Data), Mode: f.Mode})
	}
	return out
}

func etcFiles(h *hostInfo, pl *plan) map[string]string {
	resolv := "# kavach: no network in this sandbox\n"
	if !pl.ownNet {
		resolv = h.resolv
	}
	return map[string]string{
		"passwd":        "root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:kavach sandbox:" + WorkdirPath + ":/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"group":         "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n",
		"hosts":         "127.0.0.1\tlocalhost kavach\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"hostname":      "kavach\n",
		"nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n",
		"resolv.conf":   resolv,
	}
}

// safeName keeps the characters of id that are safe in file and cgroup
// names.
func safeName(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 48 {
			break
		}
	}
	if b.Len() == 0 || strings.Trim(b.String(), ".") == "" {
		return "sandbox"
	}
	return b.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *sandbox) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		// The init dies with kavach, and the pid namespace with it.
		Pdeathsig: syscall.SIGKILL,
	}
	if s.pl.ownNet {
		attr.Cloneflags |= syscall.CLONE_NEWNET
	}
	if s.root {
		attr.UidMappings = []syscall.SysProcIDMap{
			{ContainerID: 0, HostID: HostIDBase, Size: 1},
			{ContainerID: SandboxUID, HostID: HostIDBase + SandboxUID, Size: 1},
		}
		attr.GidMappings = attr.UidMappings
		// Host root is unmapped inside: switch to uid 0 inside (host
		// HostIDBase) before the exec so the init keeps its capabilities
		// in the new namespace, and drop root's supplementary groups.
		attr.GidMappingsEnableSetgroups = true
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
	} else {
		h := hostOnce()
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: h.uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: h.gid, Size: 1}}
	}
	return attr
}

func (s *sandbox) Enforced() backend.Enforced { return s.enforced }

// Start runs cmd in a fresh init inside new namespaces joined to the
// sandbox's cgroup: the spare when there is one, else one started now.
func (s *sandbox) Start(ctx context.Context, c *backend.Command) (backend.Proc, error) {
	if len(c.Args) == 0 {
		return nil, ErrEmptyCommand
	}
	s.mu.Lock()
	switch {
	case s.destroyed:
		s.mu.Unlock()
		return nil, backend.ErrDestroyed
	case s.stopped:
		s.mu.Unlock()
		return nil, ErrStopped
	}
	s.inflight.Add(1)
	s.starts++
	again := s.starts > 1
	s.mu.Unlock()
	cfg := s.base
	cfg.Args, cfg.Env = c.Args, c.Env
	if cfg.Env == nil {
		cfg.Env = []string{}
	}
	cfg.Dir = WorkdirPath
	if c.Dir != "" {
		cfg.Dir = commandDir(c.Dir)
	}
	if c.Stdout == nil || c.Stderr == nil {
		s.inflight.Done()
		return nil, errors.New("start: command without Stdout or Stderr")
	}
	var (
		p   *proc
		ok  bool
		err error
	)
	// A stdin that is a file goes to a fresh init as it is (a terminal
	// stays a terminal); a spare's stdin is a pipe.
	if _, isFile := c.Stdin.(*os.File); !isFile {
		p, ok, err = s.startWarm(ctx, c)
	} else if !again {
		// The first command (kavach run -i) would only compete with the
		// spare for the CPU; the sandbox gets spares if it runs more.
		if f := s.takeNext(); f != nil {
			go s.drop(f)
		}
	}
	if !ok {
		p, err = s.spawn(ctx, c, &cfg)
	}
	if err != nil {
		s.inflight.Done()
		return nil, err
	}
	// The next command's init gets ready once this one has ended (so
	// that it does not compete with it for the CPU), when the sandbox has
	// shown that it runs more than one: a sandbox for one command (kavach
	// run) would only pay for a spare it kills.
	p.refill = again
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed || s.stopped {
		_ = p.Kill()
		go func() { _, _ = p.Wait() }()
		return nil, ErrStopped
	}
	s.procs[p] = struct{}{}
	return p, nil
}

// commandDir is the command's working directory inside: a relative dir
// is below the workdir.
func commandDir(dir string) string {
	if path.IsAbs(dir) {
		return path.Clean(dir)
	}
	return path.Join(WorkdirPath, dir)
}

func (s *sandbox) forget(p *proc) {
	s.mu.Lock()
	delete(s.procs, p)
	s.mu.Unlock()
}

func (s *sandbox) live() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return backend.ErrDestroyed
	}
	return nil
}

// Pause freezes every process of the sandbox with the cgroup freezer.
func (s *sandbox) Pause(ctx context.Context) error {
	if err := s.live(); err != nil {
		return err
	}
	if s.cg == nil {
		return notSupported("pause", "no cgroup freezer (cgroups unavailable)")
	}
	s.cgMu.Lock()
	defer s.cgMu.Unlock()
	// Set first: a thread must never join a group that may be frozen.
	s.paused = true
	return s.cg.Freeze(ctx)
}

// Resume thaws a paused sandbox.
func (s *sandbox) Resume(ctx context.Context) error {
	if err := s.live(); err != nil {
		return err
	}
	if s.cg == nil {
		return notSupported("resume", "no cgroup freezer (cgroups unavailable)")
	}
	s.cgMu.Lock()
	defer s.cgMu.Unlock()
	if err := s.cg.Thaw(ctx); err != nil {
		return err
	}
	s.paused = false
	return nil
}

// Stop kills every process of the sandbox; Start fails afterwards.
func (s *sandbox) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	procs := make([]*proc, 0, len(s.procs))
	for p := range s.procs {
		procs = append(procs, p)
	}
	f := s.next
	s.next = nil
	s.mu.Unlock()
	if f != nil {
		go s.drop(f)
	}
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.Kill())
	}
	if s.cg != nil {
		// A frozen sandbox stays killable: the freezer is thawed after.
		s.cgMu.Lock()
		errs = append(errs, s.cg.Kill(ctx))
		s.cgMu.Unlock()
	}
	return errors.Join(errs...)
}

// Destroy kills everything and removes the cgroup, /tmp and the state
// directory (with the workdir when the backend made it).
func (s *sandbox) Destroy(ctx context.Context) error {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return nil
	}
	s.destroyed = true
	s.mu.Unlock()
	return s.release(ctx)
}

func (s *sandbox) release(ctx context.Context) error {
	var errs []error
	s.mu.Lock()
	s.stopped = true
	procs := make([]*proc, 0, len(s.procs))
	for p := range s.procs {
		procs = append(procs, p)
	}
	f := s.next
	s.next = nil
	s.mu.Unlock()
	if f != nil {
		go s.drop(f)
	}
	for _, p := range procs {
		_ = p.Kill()
		go func() { _, _ = p.Wait() }()
	}
	if s.cg != nil {
		// Frozen processes (a spare among them) die only once thawed;
		// the cgroup's Kill thaws after killing.
		s.cgMu.Lock()
		if s.paused {
			errs = append(errs, s.cg.Kill(ctx))
		}
		s.cgMu.Unlock()
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		for _, f := range s.base.Files {
			clear(f.Data)
		}
	case <-time.After(5 * time.Second):
		errs = append(errs, fmt.Errorf("destroy: sandbox inits did not exit in 5s"))
	}
	if s.cg != nil {
		s.cgMu.Lock()
		err := s.cg.Delete(ctx)
		s.cgMu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("destroy: %w", err))
		}
	}
	if s.tmpMount != "" {
		if err := unix.Unmount(s.tmpMount, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("destroy: unmount %s: %w", s.tmpMount, err))
		} else {
			s.tmpMount = ""
		}
	}
	if s.stateDir != "" && s.tmpMount == "" {
		if err := os.RemoveAll(s.stateDir); err != nil {
			errs = append(errs, fmt.Errorf("destroy: %w", err))
		} else {
			s.stateDir = ""
		}
	}
	return errors.Join(errs...)
}
