package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kavach-go/kavach/policy"
)

// Candidate is a backend with the enforcement it would give a policy.
type Candidate struct {
	Backend  Backend
	Enforced Enforced
	Score    int
}

// Rank returns the backends that are available and can enforce p on this
// host, strongest first by the score of what each would enforce. Ties go
// to the backend that is cheaper to start (noop < process < wasm < oci <
// gvisor < sy-agnos < sgx < firecracker < sev < tdx), so the order is
// deterministic. The error joins every backend's reason for being left
// out, for callers that want to explain an empty result.
func Rank(ctx context.Context, backends []Backend, p policy.Policy) ([]Candidate, error) {
	var out []Candidate
	var why []error
	for _, b := range backends {
		if err := b.Available(ctx); err != nil {
			why = append(why, err)
			continue
		}
		e, err := b.Plan(ctx, p)
		if err != nil {
			why = append(why, fmt.Errorf("%s: %w", b.Kind(), err))
			continue
		}
		out = append(out, Candidate{Backend: b, Enforced: e, Score: e.Score().Value})
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if a.Score != b.Score {
			return b.Score - a.Score
		}
		return startCost[a.Backend.Kind()] - startCost[b.Backend.Kind()]
	})
	return out, errors.Join(why...)
}

// ResolveBest returns the available backend that would enforce the
// strongest isolation for p here. Noop is chosen only when nothing else
// is available. With nothing available at all, the error wraps
// ErrUnavailable and lists every reason.
func ResolveBest(ctx context.Context, backends []Backend, p policy.Policy) (Backend, error) {
	return ResolveMinStrength(ctx, backends, p, 0)
}

// ResolveMinStrength is ResolveBest restricted to backends whose enforced
// score is at least minScore.
func ResolveMinStrength(ctx context.Context, backends []Backend, p policy.Policy, minScore int) (Backend, error) {
	cands, why := Rank(ctx, backends, p)
	var noop *Candidate
	for i, c := range cands {
		if c.Score < minScore {
			continue
		}
		if c.Backend.Kind() == Noop {
			if noop == nil {
				noop = &cands[i]
			}
			continue
		}
		return c.Backend, nil
	}
	if noop != nil {
		return noop.Backend, nil
	}
	msg := "no backend available"
	if minScore > 0 {
		msg = fmt.Sprintf("no backend available with score >= %d", minScore)
	}
	var reasons []string
	if why != nil {
		reasons = strings.Split(why.Error(), "\n")
	}
	return nil, fmt.Errorf("%w: %s [%s]", ErrUnavailable, msg, strings.Join(reasons, "; "))
}

// NotImplemented is a backend of a kind that this build of kavach does
// not implement: always unavailable, with reason "not implemented".
type NotImplemented Kind

// Kind returns the kind.
func (n NotImplemented) Kind() Kind { return Kind(n) }

// Available always reports ErrUnavailable.
func (n NotImplemented) Available(context.Context) error {
	return Unavailable(Kind(n), "not implemented")
}

// Plan always reports ErrUnavailable.
func (n NotImplemented) Plan(ctx context.Context, _ policy.Policy) (Enforced, error) {
	return Enforced{}, n.Available(ctx)
}

// Create always reports ErrUnavailable.
func (n NotImplemented) Create(ctx context.Context, _ Spec) (Sandbox, error) {
	return nil, n.Available(ctx)
}
