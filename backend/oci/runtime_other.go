//go:build !linux

package oci

import (
	"context"
	"runtime"

	"github.com/kavach-go/kavach/backend"
)

type runtime_ struct{ name, path string }

func (b *Backend) pick(ctx context.Context) (runtime_, error) {
	if err := ctx.Err(); err != nil {
		return runtime_{}, err
	}
	return runtime_{}, backend.Unavailable(backend.OCI, "OCI containers need Linux (this is %s)", runtime.GOOS)
}
