package seccomp

import (
	"fmt"
	"runtime"
	"sync"
)

// Filter is a compiled profile, ready to be applied. A Filter returned by
// Build is shared and must not be modified; it is safe for concurrent use.
type Filter struct {
	profile string
	rules   int
	prog    []Instruction
}

// Profile returns the name of the profile the filter was compiled from.
func (f *Filter) Profile() string { return f.profile }

// Rules returns the number of syscalls the profile has a rule for on this
// architecture (allowed, denied or argument-checked); every other syscall
// gets the profile's default action. It is what backend.Enforced records.
func (f *Filter) Rules() int { return f.rules }

// Program returns a copy of the BPF program, for inspection and tests.
func (f *Filter) Program() []Instruction { return append([]Instruction(nil), f.prog...) }

type built struct {
	f   *Filter
	err error
}

// cache holds each profile compiled for the running architecture, so Build
// costs a map lookup after the first call.
var cache = map[string]func() built{
	"basic":  sync.OnceValue(func() built { return buildFor("basic", runtime.GOARCH) }),
	"strict": sync.OnceValue(func() built { return buildFor("strict", runtime.GOARCH) }),
}

// Build compiles a profile ("basic" or "strict") for the running
// architecture. The result is cached: every call for the same profile
// returns the same *Filter.
func Build(profile string) (*Filter, error) {
	get, ok := cache[profile]
	if !ok {
		return nil, fmt.Errorf("build seccomp filter %q: %w", profile, ErrUnknownProfile)
	}
	b := get()
	return b.f, b.err
}

// buildFor compiles profile for goarch without caching.
func buildFor(profile, goarch string) built {
	p, ok := profiles()[profile]
	if !ok {
		return built{err: fmt.Errorf("build seccomp filter %q: %w", profile, ErrUnknownProfile)}
	}
	a, ok := archs[goarch]
	if !ok {
		return built{err: fmt.Errorf("build seccomp filter %q for %s: %w", profile, goarch, ErrUnsupportedArch)}
	}
	prog, n, err := compile(p, a)
	if err != nil {
		return built{err: fmt.Errorf("build seccomp filter: %w", err)}
	}
	return built{f: &Filter{profile: profile, rules: n, prog: prog}}
}
