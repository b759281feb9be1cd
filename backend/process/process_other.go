//go:build !linux

package process

import (
	"context"
	"runtime"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
)

func unavailable() error {
	return backend.Unavailable(backend.Process, "needs Linux namespaces, running on %s", runtime.GOOS)
}

// Available reports that the backend is Linux-only.
func (*Backend) Available(context.Context) error { return unavailable() }

// Plan reports that the backend is Linux-only.
func (*Backend) Plan(context.Context, policy.Policy) (backend.Enforced, error) {
	return backend.Enforced{}, unavailable()
}

// Create reports that the backend is Linux-only.
func (*Backend) Create(context.Context, backend.Spec) (backend.Sandbox, error) {
	return nil, unavailable()
}
