package guard

import "errors"

var (
	// ErrDenied is matched by the error Config.Enforce returns when a
	// violation's type is listed in Config.Deny.
	ErrDenied = errors.New("guard: exec denied")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("guard: invalid config")
	// ErrNotPidsCgroup is returned by ReadPids for a directory that has no
	// pids controller files.
	ErrNotPidsCgroup = errors.New("guard: not a pids cgroup")
	// ErrParse is returned for a cgroup or namespace value that cannot be
	// parsed.
	ErrParse = errors.New("guard: parse")
	// ErrUnsupported is returned by checks that exist only on Linux.
	ErrUnsupported = errors.New("guard: unsupported on this platform")
)
