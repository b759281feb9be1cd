package process

import (
	"errors"
	"fmt"
)

var (
	// ErrStopped is returned by Start after Stop.
	ErrStopped = errors.New("sandbox stopped")
	// ErrEmptyCommand is returned by Start for a command without Args.
	ErrEmptyCommand = errors.New("empty command")
	// ErrInit means the sandbox init failed before the command started.
	ErrInit = errors.New("sandbox init failed")
)

// InitError is a failure of the sandbox init before the command started,
// in the named stage ("mount /usr", "landlock", "seccomp", ...).
type InitError struct {
	Stage string
	Err   error
}

func (e *InitError) Error() string { return fmt.Sprintf("sandbox init: %s: %v", e.Stage, e.Err) }

// Unwrap returns the underlying error.
func (e *InitError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInit.
func (e *InitError) Is(target error) bool { return target == ErrInit }
