package process

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

var (
	// ErrStopped is returned by Start after Stop.
	ErrStopped = errors.New("sandbox stopped")
	// ErrEmptyCommand is returned by Start for a command without Args.
	ErrEmptyCommand = errors.New("empty command")
	// ErrInit means the sandbox init failed before the command started.
	ErrInit = errors.New("sandbox init failed")
)

// ExecError reports that the command could not be executed inside the
// sandbox. It matches os.ErrNotExist when the program was not found and
// os.ErrPermission when it is not executable, which the CLI maps to exit
// codes 127 and 126.
type ExecError struct {
	Path string // the program as given
	Err  error  // a syscall.Errno
}

func (e *ExecError) Error() string { return fmt.Sprintf("exec %s: %v", e.Path, e.Err) }

// Unwrap returns the underlying errno.
func (e *ExecError) Unwrap() error { return e.Err }

// NotFound reports whether the program does not exist.
func (e *ExecError) NotFound() bool { return errors.Is(e.Err, os.ErrNotExist) }

// NotExecutable reports whether the program exists but cannot be run.
func (e *ExecError) NotExecutable() bool {
	return errors.Is(e.Err, os.ErrPermission) || errors.Is(e.Err, syscall.ENOEXEC)
}

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
