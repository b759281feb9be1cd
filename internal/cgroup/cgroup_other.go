//go:build !linux

package cgroup

import (
	"context"
	"fmt"
	"os"
	"runtime"
)

// Host describes the usable hierarchy.
type Host struct {
	Version int
	Root    string
	Mounts  map[string]string
}

// Detect reports that cgroups are Linux-only.
func Detect() (Host, error) {
	return Host{}, fmt.Errorf("%w: %s has no cgroups", ErrUnavailable, runtime.GOOS)
}

// Cgroup is one sandbox's group.
type Cgroup struct{}

// New fails: cgroups are Linux-only.
func New(Host, string, Limits) (*Cgroup, error) { return nil, ErrUnavailable }

func (*Cgroup) Version() int                 { return 0 }
func (*Cgroup) Dirs() []string               { return nil }
func (*Cgroup) Add(int) error                { return ErrUnavailable }
func (*Cgroup) Procs() ([]int, error)        { return nil, ErrUnavailable }
func (*Cgroup) OOMKills() (uint64, error)    { return 0, ErrUnavailable }
func (*Cgroup) Freeze(context.Context) error { return ErrUnavailable }
func (*Cgroup) Thaw(context.Context) error   { return ErrUnavailable }
func (*Cgroup) Kill(context.Context) error   { return ErrUnavailable }
func (*Cgroup) Delete(context.Context) error { return nil }

// FD fails: cgroups are Linux-only.
func (*Cgroup) FD() (*os.File, error) { return nil, ErrUnavailable }

// StartIn fails without calling start: cgroups are Linux-only.
func (*Cgroup) StartIn(func() error) error {
	return fmt.Errorf("%w: %w", ErrNotStarted, ErrUnavailable)
}

// StartInExcept fails without calling start: cgroups are Linux-only.
func (*Cgroup) StartInExcept(string, func() error) error {
	return fmt.Errorf("%w: %w", ErrNotStarted, ErrUnavailable)
}

// AddExcept fails: cgroups are Linux-only.
func (*Cgroup) AddExcept(int, string) error { return ErrUnavailable }

// DelegateTasks fails: cgroups are Linux-only.
func (*Cgroup) DelegateTasks(string, int, int) (string, error) { return "", ErrUnavailable }
