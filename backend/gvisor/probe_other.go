//go:build !linux

package gvisor

import (
	"context"
	"runtime"

	"github.com/kavach-go/kavach/backend"
)

type runsc struct{ path, platform string }

type probeCache struct{}

func (b *Backend) runsc(ctx context.Context) (runsc, error) {
	if err := ctx.Err(); err != nil {
		return runsc{}, err
	}
	return runsc{}, backend.Unavailable(backend.GVisor, "gVisor needs Linux (this is %s)", runtime.GOOS)
}
