package kavach

import (
	"context"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/gvisor"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/backend/syagnos"
	"github.com/kavach-go/kavach/backend/wasm"
	"github.com/kavach-go/kavach/policy"
)

// Backends returns every backend kind this build knows, in the original's
// order. Kinds without an implementation are present and unavailable with
// the reason "not implemented".
func Backends() []backend.Backend {
	bs := make([]backend.Backend, 0, len(backend.All()))
	for _, k := range backend.All() {
		bs = append(bs, newBackend(k))
	}
	return bs
}

func newBackend(k backend.Kind) backend.Backend {
	switch k {
	case backend.Noop:
		return noop.New()
	case backend.Wasm:
		return wasm.New()
	case backend.OCI:
		return oci.New()
	case backend.GVisor:
		return gvisor.New()
	case backend.SyAgnos:
		return syagnos.New()
	case backend.Process:
		return process.New()
	}
	return backend.NotImplemented(k)
}

// ResolveBest returns the kind of the strongest available backend for p,
// by the score of what it would enforce on this host.
func ResolveBest(ctx context.Context, p policy.Policy) (backend.Kind, error) {
	b, err := backend.ResolveBest(ctx, Backends(), p)
	if err != nil {
		return 0, err
	}
	return b.Kind(), nil
}

func findBackend(bs []backend.Backend, k backend.Kind) (backend.Backend, error) {
	for _, b := range bs {
		if b.Kind() == k {
			return b, nil
		}
	}
	return nil, &backend.UnavailableError{Kind: k, Reason: "not compiled into this build"}
}
