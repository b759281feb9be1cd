package bundle

import "errors"

var (
	// ErrStopped is returned by Start after Stop.
	ErrStopped = errors.New("sandbox stopped")
	// ErrNoStatus means the container ended without its init reporting
	// how the command ended (the runtime failed, or the init was killed).
	ErrNoStatus = errors.New("container ended without a status")
)
