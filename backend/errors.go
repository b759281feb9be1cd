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
