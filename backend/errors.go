package backend

import (
	"errors"
	"fmt"
)

var (
	// ErrUnavailable means the backend cannot run on this host (not
	// implemented, binary or hardware missing, kernel feature absent).
	ErrUnavailable = errors.New("backend not available")
	// ErrNotSupported means the backend cannot enforce something the policy
	// asks for and the policy does not allow best effort.
	ErrNotSupported = errors.New("policy not supported")
	// ErrUnknownKind is returned by ParseKind.
	ErrUnknownKind = errors.New("unknown backend")
	// ErrDestroyed is returned by operations on a destroyed sandbox.
	ErrDestroyed = errors.New("sandbox destroyed")
)

// UnavailableError says why a backend cannot be used here.
type UnavailableError struct {
	Kind   Kind
	Reason string // e.g. "runsc not found on PATH"
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("backend not available: %s: %s", e.Kind, e.Reason)
}

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unavailable returns an *UnavailableError for kind.
func Unavailable(kind Kind, format string, args ...any) error {
	return &UnavailableError{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// NotSupportedError names the protection that could not be applied.
type NotSupportedError struct {
	Kind       Kind
	Protection string // e.g. "cgroup memory limit"
	Reason     string
}

func (e *NotSupportedError) Error() string {
	return fmt.Sprintf("%s cannot enforce %s: %s (set best_effort to accept less)", e.Kind, e.Protection, e.Reason)
}

// Is reports whether target is ErrNotSupported.
func (e *NotSupportedError) Is(target error) bool { return target == ErrNotSupported }

// ExecError reports that a sandbox could not execute a command's program:
// Err matches os.ErrNotExist when it was not found and os.ErrPermission
// when it is not executable, so callers (and `kavach run`'s exit codes
// 127 and 126) can tell them apart from kavach's own failures.
type ExecError struct {
	Path string
	Err  error
}

func (e *ExecError) Error() string { return fmt.Sprintf("exec %s: %v", e.Path, e.Err) }

// Unwrap returns Err.
func (e *ExecError) Unwrap() error { return e.Err }
