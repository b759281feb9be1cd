package oci

import (
	"context"
	"fmt"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/bundle"
	"github.com/kavach-go/kavach/policy"
)

// Runtimes are the runtimes the backend can drive, in order of
// preference.
var Runtimes = []string{"crun", "runc"}

// Backend runs commands in crun or runc containers.
type Backend struct {
	runtime  string // forced runtime name; "" picks the first usable
	rootfs   string
	layout   string // OCI image layout directory
	ref      string // image name in layout
	stateDir string
}

// Option configures a Backend.
type Option func(*Backend)

// WithRuntime forces a runtime ("crun" or "runc") instead of the first
// usable one.
func WithRuntime(name string) Option { return func(b *Backend) { b.runtime = name } }

// WithRootfs runs commands in dir, an unpacked root file system, instead
// of a root built from the host's binaries. The directory is used as is
// and never removed; with a writable root, commands can change it.
func WithRootfs(dir string) Option { return func(b *Backend) { b.rootfs = dir } }

// WithImageLayout runs commands in image ref ("" for the only one) of
// the OCI image layout at dir, unpacked afresh for every sandbox (see
// internal/ociimage). kavach's binary, the container init, must be able
// to run in it: statically linked, or the image has a compatible libc.
func WithImageLayout(dir, ref string) Option { return func(b *Backend) { b.layout, b.ref = dir, ref } }

// WithStateDir sets where sandboxes keep their bundles (default
// os.TempDir()).
func WithStateDir(dir string) Option { return func(b *Backend) { b.stateDir = dir } }

// New returns the OCI backend.
func New(opts ...Option) *Backend {
	b := &Backend{}
	for _, o := range opts {
		o(b)
	}
	return b
}

var _ backend.Backend = (*Backend)(nil)

// Kind returns backend.OCI.
func (*Backend) Kind() backend.Kind { return backend.OCI }

// Available returns nil when a usable runtime is installed, else an
// *backend.UnavailableError with every runtime's reason.
func (b *Backend) Available(ctx context.Context) error {
	_, err := b.pick(ctx)
	return err
}

// Runtime returns the name and path of the runtime the backend uses.
func (b *Backend) Runtime(ctx context.Context) (name, path string, err error) {
	r, err := b.pick(ctx)
	return r.name, r.path, err
}

// Plan reports what a sandbox for p enforces, or the error Create would
// return.
func (b *Backend) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	if _, err := b.pick(ctx); err != nil {
		return backend.Enforced{}, err
	}
	if b.rootfs != "" {
		if err := bundle.CheckRootfs(backend.OCI, b.rootfs); err != nil {
			return backend.Enforced{}, err
		}
	}
	if b.layout != "" {
		if err := bundle.CheckImage(backend.OCI, b.layout, b.ref); err != nil {
			return backend.Enforced{}, err
		}
	}
	e, err := bundle.Plan(backend.OCI, p, b.rootfs)
	if err == nil && b.layout != "" {
		e.Root = "image " + b.ref + " from OCI layout " + b.layout
	}
	return e, err
}

// Create makes a sandbox; each command runs as its own container.
func (b *Backend) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	r, err := b.pick(ctx)
	if err != nil {
		return nil, err
	}
	e, err := b.Plan(ctx, spec.Policy)
	if err != nil {
		return nil, err
	}
	rt := bundle.Runtime{Kind: backend.OCI, Path: r.path, Global: []string{"--root", stateRoot(r.name)}}
	return bundle.Create(ctx, rt, bundle.Config{
		Spec: spec, Enforced: e, Rootfs: b.rootfs,
		NetNS: e.Network != backend.NetworkHost, StateDir: b.stateDir,
		Populate: b.populate(),
		Prepare:  true,
		CgroupFS: true,
	})
}

// stateRoot is the runtime's state directory for kavach's containers,
// apart from any other user of the same runtime.
func stateRoot(name string) string { return fmt.Sprintf("/run/kavach/%s", name) }

func (b *Backend) populate() func(context.Context, string) error {
	if b.layout == "" {
		return nil
	}
	return bundle.UnpackImage(b.layout, b.ref)
}
