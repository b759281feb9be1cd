package cgroup

import "errors"

var (
	// ErrUnavailable means no usable cgroup hierarchy with the needed
	// controllers is mounted and writable.
	ErrUnavailable = errors.New("cgroups unavailable")
	// ErrNotEmpty means processes were still in the group after killing.
	ErrNotEmpty = errors.New("cgroup still has processes")
	// ErrDeleted is returned by operations on a deleted group.
	ErrDeleted = errors.New("cgroup deleted")
	// ErrNotStarted means StartIn did not call its function.
	ErrNotStarted = errors.New("not started")
)
