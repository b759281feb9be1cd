package gvisor

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/bundle"
	"github.com/kavach-go/kavach/policy"
)

// Platforms are the runsc platforms tried, in order of preference.
var Platforms = []string{"systrap", "ptrace"}

// stateRoot is runsc's state directory for kavach's containers.
const stateRoot = "/run/kavach/runsc"

// Backend runs commands in gVisor containers.
type Backend struct {
	path     string // runsc binary; "" looks it up on PATH
	platform string // forced platform; "" probes Platforms
	rootfs   string
	layout   string // OCI image layout directory
	ref      string // image name in layout
	stateDir string

	probe probeCache
}

// Option configures a Backend.
type Option func(*Backend)

// WithRunsc uses the runsc binary at path instead of the one on PATH.
func WithRunsc(path string) Option { return func(b *Backend) { b.path = path } }

// WithPlatform forces a runsc platform ("systrap", "ptrace", "kvm").
func WithPlatform(name string) Option { return func(b *Backend) { b.platform = name } }

// WithRootfs runs commands in dir, an unpacked root file system, instead
// of a root built from the host's binaries.
func WithRootfs(dir string) Option { return func(b *Backend) { b.rootfs = dir } }

// WithImageLayout runs commands in image ref ("" for the only one) of
// the OCI image layout at dir, unpacked afresh for every sandbox (see
// internal/ociimage). kavach's binary, the container init, must be able
// to run in it: statically linked, or the image has a compatible libc.
func WithImageLayout(dir, ref string) Option { return func(b *Backend) { b.layout, b.ref = dir, ref } }

// WithStateDir sets where sandboxes keep their bundles (default
// os.TempDir()).
func WithStateDir(dir string) Option { return func(b *Backend) { b.stateDir = dir } }

// New returns the gVisor backend.
func New(opts ...Option) *Backend {
	b := &Backend{}
	for _, o := range opts {
		o(b)
	}
	return b
}

var _ backend.Backend = (*Backend)(nil)

// Kind returns backend.GVisor.
func (*Backend) Kind() backend.Kind { return backend.GVisor }

// Available returns nil when runsc is installed and starts a sandbox on
// one of the platforms; the probe runs once per Backend.
func (b *Backend) Available(ctx context.Context) error {
	_, err := b.runsc(ctx)
	return err
}

// Runsc returns the runsc binary and the platform the backend uses.
func (b *Backend) Runsc(ctx context.Context) (path, platform string, err error) {
	r, err := b.runsc(ctx)
	return r.path, r.platform, err
}

// Plan reports what a sandbox for p enforces, or the error Create would
// return.
func (b *Backend) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	r, err := b.runsc(ctx)
	if err != nil {
		return backend.Enforced{}, err
	}
	if b.rootfs != "" {
		if err := bundle.CheckRootfs(backend.GVisor, b.rootfs); err != nil {
			return backend.Enforced{}, err
		}
	}
	if b.layout != "" {
		if err := bundle.CheckImage(backend.GVisor, b.layout, b.ref); err != nil {
			return backend.Enforced{}, err
		}
	}
	e, err := bundle.Plan(backend.GVisor, p, b.rootfs)
	if err != nil {
		return backend.Enforced{}, err
	}
	if b.layout != "" {
		e.Root = "image " + b.ref + " from OCI layout " + b.layout
	}
	e.Root += " (served by the gVisor gofer, runsc platform " + r.platform + ")"
	// The sentry implements no cgroup namespace (/proc/self/ns/cgroup does
	// not exist inside).
	e.Namespaces = slices.DeleteFunc(e.Namespaces, func(n string) bool { return n == "cgroup" })
	if e.MaxPids > 0 {
		// max_pids is RLIMIT_NPROC inside the sentry; see
		// bundle.Options.PidsInKernel.
		e.Rlimits = true
	}
	return e, nil
}

// Create makes a sandbox; each command runs as its own gVisor container.
func (b *Backend) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	r, err := b.runsc(ctx)
	if err != nil {
		return nil, err
	}
	e, err := b.Plan(ctx, spec.Policy)
	if err != nil {
		return nil, err
	}
	network := "none"
	if e.Network == backend.NetworkHost {
		network = "host"
	}
	rt := bundle.Runtime{Kind: backend.GVisor, Path: r.path, Global: []string{
		"--root", filepath.Join(stateRoot, r.platform), "--platform=" + r.platform, "--network=" + network,
	}}
	return bundle.Create(ctx, rt, bundle.Config{
		Spec: spec, Enforced: e, Rootfs: b.rootfs, NetNS: bundle.NetNS(e), StateDir: b.stateDir,
		Populate:     b.populate(),
		PidsInKernel: true,
	})
}

func (b *Backend) populate() func(context.Context, string) error {
	if b.layout == "" {
		return nil
	}
	return bundle.UnpackImage(b.layout, b.ref)
}
