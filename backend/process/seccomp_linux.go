package process

import (
	"errors"
	"sync"

	"github.com/kavach-go/kavach/internal/seccomp"
)

// seccompImpl builds the filter of a profile: its rule count and a
// function that installs it. When it is nil, seccomp is reported as not
// applied (and refused unless the policy is best effort).
var seccompImpl = func(profile string) (int, func() error, error) {
	f, err := seccomp.Build(profile)
	if err != nil {
		return 0, nil, err
	}
	return f.Rules(), f.Apply, nil
}

var errNoSeccomp = errors.New("this build has no seccomp filter builder (internal/seccomp missing)")

var seccompCache sync.Map // profile → int (rule count) or error

// seccompRules returns the rule count of profile, building it once.
func seccompRules(profile string) (int, error) {
	if seccompImpl == nil {
		return 0, errNoSeccomp
	}
	if v, ok := seccompCache.Load(profile); ok {
		if err, isErr := v.(error); isErr {
			return 0, err
		}
		return v.(int), nil
	}
	n, _, err := seccompImpl(profile)
	if err != nil {
		seccompCache.Store(profile, err)
		return 0, err
	}
	seccompCache.Store(profile, n)
	return n, nil
}
