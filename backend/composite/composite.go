package composite

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/gvisor"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/internal/bundle"
	"github.com/kavach-go/kavach/internal/landlock"
	"github.com/kavach-go/kavach/internal/seccomp"
	"github.com/kavach-go/kavach/policy"
)

// Backend is an outer container backend with the process backend's
// last stage applied inside each of its containers.
type Backend struct {
	outer backend.Backend
	inner backend.Kind
	// innerSeccomp overrides the inner filter's profile; "" follows the
	// policy.
	innerSeccomp string

	mu    sync.Mutex
	probe *probeResult // guarded by mu; nil until a probe completed
}

// probeResult is what the Landlock probe found inside the outer layer.
type probeResult struct {
	abi int
	err error // why Landlock cannot be applied inside; nil when it can
}

// Option configures a Backend.
type Option func(*Backend)

// WithInnerSeccomp makes the inner layer's seccomp filter use profile
// ("basic" or "strict") whatever the policy asks, like the original,
// whose inner layer always took the strict preset. By default the inner
// filter uses the policy's profile, and none when seccomp is off.
func WithInnerSeccomp(profile string) Option { return func(b *Backend) { b.innerSeccomp = profile } }

var _ backend.Backend = (*Backend)(nil)

// New layers inner inside outer. The only supported inner kind is
// backend.Process, and the outer must be kavach's oci or gvisor backend,
// whose container init applies the inner stage; any other pair is
// refused with a *PairError saying why.
func New(outer backend.Backend, inner backend.Kind, opts ...Option) (backend.Backend, error) {
	if outer == nil {
		return nil, fmt.Errorf("composite: %w: no outer backend", ErrUnsupportedPair)
	}
	ok := outer.Kind()
	refuse := func(reason string) (backend.Backend, error) {
		return nil, &PairError{Outer: ok, Inner: inner, Reason: reason}
	}
	switch inner {
	case backend.Process:
	case backend.Wasm:
		return refuse("a WebAssembly module runs inside kavach's own process and makes no system calls of its own: there is nothing to filter or confine as an inner layer")
	case backend.Noop:
		return refuse("noop enforces nothing: a layer that applies nothing is not a layer")
	case backend.OCI, backend.GVisor, backend.SyAgnos:
		return refuse("nested containers are not supported: the inner layer runs inside the outer container, where only the process backend's Landlock and seccomp stage can be applied")
	default:
		return refuse(inner.String() + " is not implemented in kavach, so it cannot be an inner layer")
	}
	switch ok {
	case backend.OCI, backend.GVisor:
		_, isOCI := outer.(*oci.Backend)
		_, isGVisor := outer.(*gvisor.Backend)
		if !isOCI && !isGVisor {
			return refuse(fmt.Sprintf("the outer backend (%T) is not kavach's own oci or gvisor backend, whose container init applies the inner stage", outer))
		}
	case backend.Process:
		return refuse("the process backend already is the Landlock and seccomp stage: there is nothing to nest it in")
	case backend.Wasm:
		return refuse("a WebAssembly module makes no system calls, so Landlock and seccomp inside it would filter nothing")
	case backend.Noop:
		return refuse("noop runs nothing for an inner layer to nest in")
	case backend.SyAgnos:
		return refuse("sy-agnos containers run under podman or docker without kavach's init, so nothing inside them can apply the inner stage")
	default:
		return refuse(ok.String() + " is not implemented in kavach, so it cannot be an outer layer")
	}
	b := &Backend{outer: outer, inner: inner}
	for _, o := range opts {
		o(b)
	}
	if b.innerSeccomp != "" {
		if _, err := seccomp.Build(b.innerSeccomp); err != nil {
			return nil, fmt.Errorf("composite inner seccomp: %w", err)
		}
	}
	return b, nil
}

// Kind returns the outer backend's kind, as the original's composite
// did.
func (b *Backend) Kind() backend.Kind { return b.outer.Kind() }

// Outer returns the outer backend.
func (b *Backend) Outer() backend.Backend { return b.outer }

// Inner returns the inner layer's kind.
func (b *Backend) Inner() backend.Kind { return b.inner }

// Available reports the outer backend's availability.
func (b *Backend) Available(ctx context.Context) error { return b.outer.Available(ctx) }

// Plan returns what Create enforces for p: both layers, outer first.
func (b *Backend) Plan(ctx context.Context, p policy.Policy) (backend.Enforced, error) {
	e, _, err := b.plan(ctx, p)
	return e, err
}

// Create makes an outer sandbox whose every command passes through the
// inner stage.
func (b *Backend) Create(ctx context.Context, spec backend.Spec) (backend.Sandbox, error) {
	e, st, err := b.plan(ctx, spec.Policy)
	if err != nil {
		return nil, err
	}
	outerSpec := spec
	outerSpec.Policy = outerPolicy(spec.Policy)
	sb, err := b.outer.Create(bundle.WithInnerStage(ctx, st), outerSpec)
	if err != nil {
		return nil, fmt.Errorf("create composite %s sandbox: %w", b.Kind(), err)
	}
	return &sandbox{Sandbox: sb, e: e}, nil
}

// sandbox is the outer sandbox reporting both layers.
type sandbox struct {
	backend.Sandbox
	e backend.Enforced
}

func (s *sandbox) Enforced() backend.Enforced { return s.e }

// outerPolicy is p for the outer layer: the Landlock rules are the inner
// layer's business (the container backends refuse them otherwise).
func outerPolicy(p policy.Policy) policy.Policy {
	p = p.Clone()
	p.LandlockRules = nil
	return p
}

// plan returns the composite's Enforced and the stage the containers'
// init applies.
func (b *Backend) plan(ctx context.Context, p policy.Policy) (backend.Enforced, *bundle.InnerStage, error) {
	if err := p.Validate(); err != nil {
		return backend.Enforced{}, nil, fmt.Errorf("composite plan: %w", err)
	}
	oe, err := b.outer.Plan(ctx, outerPolicy(p))
	if err != nil {
		return backend.Enforced{}, nil, err
	}
	ie := backend.Enforced{
		Backend:      b.inner,
		NoNewPrivs:   true,
		Capabilities: []string{},
		UID:          oe.UID,
	}
	st := &bundle.InnerStage{}
	prof := b.innerSeccomp
	if prof == "" {
		prof = p.Profile()
	}
	if prof != "" {
		f, err := seccomp.Build(prof)
		if err != nil {
			return backend.Enforced{}, nil, fmt.Errorf("composite plan: %w", err)
		}
		st.Seccomp, ie.Seccomp, ie.SeccompRules = prof, prof, f.Rules()
	}
	abi, lerr := b.landlockABI(ctx)
	if lerr != nil {
		if ctx.Err() != nil {
			return backend.Enforced{}, nil, ctx.Err()
		}
		if !p.BestEffort {
			return backend.Enforced{}, nil, &backend.NotSupportedError{Kind: b.Kind(), Protection: "landlock (inner process layer)", Reason: lerr.Error()}
		}
		ie.Downgrades = append(ie.Downgrades, "landlock (inner process layer): "+lerr.Error())
	} else {
		ll := &bundle.InnerLandlock{ABI: abi, Rules: rules(p, abi), Scoped: abi >= 6}
		if oe.Network == backend.NetworkHost && len(p.Network.AllowedPorts) > 0 {
			if abi >= 4 {
				ll.RestrictTCP, ll.Ports = true, slices.Clone(p.Network.AllowedPorts)
				ie.LandlockNetRules = len(ll.Ports)
			} else if !p.BestEffort {
				return backend.Enforced{}, nil, &backend.NotSupportedError{Kind: b.Kind(), Protection: "landlock tcp port rules (inner process layer)", Reason: fmt.Sprintf("Landlock ABI %d < 4", abi)}
			} else {
				ie.Downgrades = append(ie.Downgrades, fmt.Sprintf("landlock tcp port rules (inner process layer): Landlock ABI %d < 4", abi))
			}
		}
		st.Landlock = ll
		ie.LandlockABI, ie.LandlockRules, ie.LandlockScoped = abi, len(ll.Rules), ll.Scoped
	}
	return combine(oe, ie), st, nil
}

// combine returns the composite's Enforced: the outer layer's fields,
// plus what the inner layer adds on top, and both layers.
func combine(oe, ie backend.Enforced) backend.Enforced {
	e := oe
	e.Layers = []backend.Enforced{oe, ie}
	e.Namespaces = slices.Clone(oe.Namespaces)
	e.Capabilities = []string{}
	e.NoNewPrivs = oe.NoNewPrivs || ie.NoNewPrivs
	if ie.LandlockRules > 0 {
		e.LandlockABI, e.LandlockRules, e.LandlockNetRules, e.LandlockScoped = ie.LandlockABI, ie.LandlockRules, ie.LandlockNetRules, ie.LandlockScoped
	}
	// Both filters are in force; the stricter decides what is allowed.
	if e.Seccomp == "" || (ie.Seccomp == policy.ProfileStrict && e.Seccomp != policy.ProfileStrict) {
		e.Seccomp, e.SeccompRules = ie.Seccomp, ie.SeccompRules
	}
	e.Downgrades = append(slices.Clone(oe.Downgrades), ie.Downgrades...)
	e.Unenforced = slices.Clone(oe.Unenforced)
	return e
}

// rules derives the inner layer's Landlock rules from the container's
// layout as the process backend derives its own from its mounts:
// everything readable, devices usable, and write access only to /tmp,
// /dev/shm, the workdir, the data directory, read-write mounts and the
// policy's read-write rules.
func rules(p policy.Policy, abi int) []landlock.Rule {
	full := landlock.HandledFS(abi)
	rs := []landlock.Rule{
		{Path: "/", Access: landlock.ReadAccess},
		{Path: "/dev", Access: landlock.DeviceAccess},
		{Path: "/dev/shm", Access: full},
		{Path: "/dev/pts", Access: landlock.DeviceAccess},
		{Path: "/tmp", Access: full},
		{Path: bundle.Workdir, Access: full},
	}
	if p.DataDir != "" {
		rs = append(rs, landlock.Rule{Path: p.DataDir, Access: full})
	}
	for _, m := range p.Mounts {
		acc := full
		if m.ReadOnly {
			acc = landlock.ReadAccess
		}
		rs = append(rs, landlock.Rule{Path: m.Target, Access: acc})
	}
	for _, r := range p.LandlockRules {
		acc := landlock.ReadAccess
		if r.ReadWrite() {
			acc = full
		}
		rs = append(rs, landlock.Rule{Path: r.Path, Access: acc})
	}
	return rs
}

// probeTimeout bounds the Landlock probe's container run.
const probeTimeout = 60 * time.Second

// landlockABI returns the Landlock ABI the inner stage applies inside
// the outer layer, or why it cannot. The host's ABI is what an OCI
// container's kernel offers, but gVisor's sentry is a kernel of its own,
// so the answer is found once per Backend by a dry run of the stage
// (Landlock on "/") in a real outer container: a completed probe is
// cached, a failure to run the container is not.
func (b *Backend) landlockABI(ctx context.Context) (int, error) {
	abi, err := landlock.ABI()
	if err != nil {
		return 0, fmt.Errorf("the host kernel has no Landlock: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probe != nil {
		return b.probe.abi, b.probe.err
	}
	st := &bundle.InnerStage{DryRun: true, Landlock: &bundle.InnerLandlock{
		ABI: abi, Rules: []landlock.Rule{{Path: "/", Access: landlock.ReadAccess}},
	}}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	sb, err := b.outer.Create(bundle.WithInnerStage(pctx, st), backend.Spec{ID: "composite-landlock-probe", Policy: policy.Minimal()})
	if err != nil {
		return 0, fmt.Errorf("probe landlock inside %s: %w", b.Kind(), err)
	}
	defer sb.Destroy(context.WithoutCancel(ctx))
	var out bytes.Buffer
	proc, err := sb.Start(pctx, &backend.Command{Args: []string{"kavach-landlock-probe"}, Stdout: &out, Stderr: &out})
	if err != nil {
		return 0, fmt.Errorf("probe landlock inside %s: %w", b.Kind(), err)
	}
	stop := context.AfterFunc(pctx, func() { _ = proc.Kill() })
	defer stop()
	es, err := proc.Wait()
	switch {
	case err != nil:
		return 0, fmt.Errorf("probe landlock inside %s: %w", b.Kind(), err)
	case pctx.Err() != nil:
		return 0, fmt.Errorf("probe landlock inside %s: %w", b.Kind(), pctx.Err())
	case es.Code == 0 && es.Signal == 0:
		b.probe = &probeResult{abi: abi}
	default:
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = fmt.Sprintf("the dry run ended with %+v", es)
		}
		b.probe = &probeResult{err: fmt.Errorf("%s cannot apply Landlock inside its containers: %s", b.Kind(), msg)}
	}
	return b.probe.abi, b.probe.err
}
