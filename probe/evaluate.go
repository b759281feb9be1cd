package probe

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/score"
)

// Report compares a sandbox's claim with the probe's evidence.
type Report struct {
	Backend  string      `json:"backend"`
	Claimed  score.Score `json:"claimed"`
	Verified score.Score `json:"verified"`
	// Lost lists the score parts with an expected check that failed; they
	// are not counted in Verified, except that the +2 for a memory or CPU
	// limit stays while the other limit holds.
	Lost []Modifier `json:"lost,omitempty"`
	// Failed lists the checks the claim says pass that did not.
	Failed []string `json:"failed,omitempty"`
	// Checks is every check, with Expected taken from the claim.
	Checks []Result `json:"checks"`
	// OK is true when the scores agree and no expected check failed.
	OK bool `json:"ok"`
}

// Evaluate scores the evidence against the claim. Expectations,
// descriptions and modifiers come from this package's battery, not from
// the probe's output, since the probe runs inside the sandbox under
// test; a check missing from the output counts as failed, and an unknown
// or repeated check is an error.
//
// The verified score is the claimed one without every part that lost a
// check it was expected to pass: the seccomp, Landlock, network-off and
// read-only-root bonuses; a memory or CPU limit whose check failed (the
// +2 stays while the other limit holds); and the backend's base when a
// base check (namespaces, capabilities, host visibility) failed. A check
// that passes although the claim does not require it adds nothing.
func Evaluate(claim backend.Enforced, out Output) (Report, error) {
	got := make(map[string]Result, len(out.Checks))
	for _, r := range out.Checks {
		if _, ok := lookup(r.ID); !ok {
			return Report{}, fmt.Errorf("%w: unknown check %q", ErrOutput, r.ID)
		}
		if _, dup := got[r.ID]; dup {
			return Report{}, fmt.Errorf("%w: check %q reported twice", ErrOutput, r.ID)
		}
		got[r.ID] = r
	}
	rep := Report{Backend: claim.Backend.String(), Claimed: claim.Score()}
	verified := claim
	lost := map[Modifier]bool{}
	for _, c := range catalogue {
		r, ok := got[c.ID]
		if !ok {
			r = Result{ID: c.ID, Detail: "missing from the probe's output"}
		}
		r.Description, r.Modifier, r.Expected = c.Description, c.Modifier, c.Expected(claim)
		rep.Checks = append(rep.Checks, r)
		if !r.Expected || r.Pass {
			continue
		}
		rep.Failed = append(rep.Failed, c.ID)
		switch c.Modifier {
		case Seccomp:
			drop(&verified, func(e *backend.Enforced) { e.Seccomp, e.SeccompRules = "", 0 })
		case Landlock:
			drop(&verified, func(e *backend.Enforced) { e.LandlockRules = 0 })
		case NetworkOff:
			drop(&verified, func(e *backend.Enforced) {
				if e.Network == backend.NetworkNone {
					e.Network = backend.NetworkHost
				}
			})
		case ReadOnlyRoot:
			drop(&verified, func(e *backend.Enforced) { e.ReadOnlyRoot = false })
		case ResourceLimit:
			if c.ID == "limits.cpu" {
				drop(&verified, func(e *backend.Enforced) { e.CPULimit = 0 })
			} else {
				drop(&verified, func(e *backend.Enforced) { e.MemoryLimitMB = 0 })
			}
		case None:
			continue
		}
		lost[c.Modifier] = true
	}
	v := verified.Score()
	if lost[Base] {
		v = withoutBase(verified, v, rep.Failed)
	}
	rep.Verified = v
	for _, m := range []Modifier{Base, Seccomp, Landlock, NetworkOff, ReadOnlyRoot, ResourceLimit} {
		if lost[m] {
			rep.Lost = append(rep.Lost, m)
		}
	}
	rep.OK = rep.Claimed.Value == rep.Verified.Value && len(rep.Failed) == 0
	return rep, nil
}

// drop applies f to e and to every layer of a composite claim: the probe
// sees the sandbox as a whole, so evidence against a part counts against
// each layer that claims it.
func drop(e *backend.Enforced, f func(*backend.Enforced)) {
	f(e)
	e.Layers = slices.Clone(e.Layers)
	for i := range e.Layers {
		drop(&e.Layers[i], f)
	}
}

// withoutBase removes the backend's base points from s: what is left is
// what the verified modifiers alone are worth (for a composite, those of
// its best layer).
func withoutBase(e backend.Enforced, s score.Score, failed []string) score.Score {
	mods := score.Enforced(backend.Noop.String(), e.Facts()).Value
	if len(e.Layers) >= 2 {
		mods = 0
		for _, l := range e.Layers {
			mods = max(mods, score.Enforced(backend.Noop.String(), l.Facts()).Value)
		}
	}
	var ids []string
	for _, id := range failed {
		if c, _ := lookup(id); c.Modifier == Base {
			ids = append(ids, id)
		}
	}
	reasons := append(slices.Clone(s.Reasons), fmt.Sprintf("-%d base not verified (%s)", s.Value-mods, strings.Join(ids, ", ")))
	return score.Score{Value: mods, Label: score.Label(mods), Reasons: reasons}
}
