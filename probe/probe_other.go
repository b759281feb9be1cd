//go:build !linux

package probe

import (
	"context"
	"fmt"
	"runtime"

	"github.com/kavach-go/kavach/backend"
)

// Run fails: the probe's checks exist only on Linux.
func Run(ctx context.Context, h HostInfo) (Output, error) {
	return Output{}, fmt.Errorf("run probe on %s: %w", runtime.GOOS, backend.ErrUnavailable)
}

// HostNamespaces fails: namespaces exist only on Linux.
func HostNamespaces() (map[string]uint64, error) {
	return nil, fmt.Errorf("read namespaces on %s: %w", runtime.GOOS, backend.ErrUnavailable)
}

// Hold fails: helpers run only on Linux.
func Hold() error { return fmt.Errorf("hold on %s: %w", runtime.GOOS, backend.ErrUnavailable) }

// Alloc fails: helpers run only on Linux.
func Alloc(mib int) error {
	return fmt.Errorf("alloc on %s: %w", runtime.GOOS, backend.ErrUnavailable)
}

// HostKernel returns "": the probe runs only on Linux.
func HostKernel() string { return "" }
