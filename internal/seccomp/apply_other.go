//go:build !linux

package seccomp

import (
	"fmt"

	"github.com/kavach-go/kavach/backend"
)

// Apply fails: seccomp exists only on Linux.
func (f *Filter) Apply() error {
	return fmt.Errorf("apply seccomp %s filter: %w (%w)", f.profile, ErrUnsupported, backend.ErrUnavailable)
}
