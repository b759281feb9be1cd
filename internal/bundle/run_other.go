//go:build !linux

package bundle

import (
	"context"
	"errors"
	"fmt"

	"github.com/kavach-go/kavach/backend"
)

// Runtime is an OCI runtime's command line.
type Runtime struct {
	Kind   backend.Kind
	Path   string
	Global []string
}

// Config is what Create needs besides the runtime.
type Config struct {
	Spec         backend.Spec
	Enforced     backend.Enforced
	Rootfs       string
	NetNS        bool
	StateDir     string
	CgroupFS     bool
	PidsInKernel bool
	Populate     func(ctx context.Context, rootfs string) error
	Prepare      bool
	Inner        *InnerStage
}

// Create fails: OCI runtimes run Linux containers.
func Create(_ context.Context, rt Runtime, _ Config) (backend.Sandbox, error) {
	return nil, fmt.Errorf("create %s sandbox: %w", rt.Kind, errors.Join(backend.ErrUnavailable, errors.New("OCI containers need Linux")))
}

// BuildRoot fails: a built root binds Linux host directories.
func BuildRoot(string) ([]string, error) {
	return nil, fmt.Errorf("build root: %w", backend.ErrUnavailable)
}

// CheckRootfs fails: OCI containers need Linux.
func CheckRootfs(kind backend.Kind, _ string) error {
	return backend.Unavailable(kind, "OCI containers need Linux")
}
