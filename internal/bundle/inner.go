package bundle

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kavach-go/kavach/internal/landlock"
)

// InnerStage is a second isolation layer the container's exec role
// applies inside the container, after the runtime's own isolation and
// kavach's seccomp filter are prepared and just before the command is
// executed: the process backend's last stage (no_new_privs, no
// capabilities, a Landlock domain, then its own seccomp filter). The
// composite backend uses it to layer the process backend inside an OCI
// or gVisor container.
type InnerStage struct {
	// Landlock is the ruleset to restrict the command with; nil for none.
	Landlock *InnerLandlock `json:"landlock,omitempty"`
	// Seccomp is the profile of a second seccomp filter, installed after
	// the outer layer's own; "" for none.
	Seccomp string `json:"seccomp,omitempty"`
	// DryRun applies the stage and then exits 0 instead of executing the
	// command: a probe of whether the container's kernel (the host's, or
	// gVisor's sentry) can apply it.
	DryRun bool `json:"dry_run,omitempty"`
}

// InnerLandlock is the Landlock ruleset of an InnerStage; paths are
// inside the container.
type InnerLandlock struct {
	ABI         int             `json:"abi"`
	Rules       []landlock.Rule `json:"rules"`
	RestrictTCP bool            `json:"tcp,omitempty"`
	Ports       []uint16        `json:"ports,omitempty"`
	Scoped      bool            `json:"scoped,omitempty"`
}

// innerKey is the context key of WithInnerStage.
type innerKey struct{}

// WithInnerStage returns a context that makes Create, called with it,
// apply st inside every container of the sandbox. The backends' Create
// passes its context to Create unchanged, so a caller that wraps a
// backend (the composite) can add the stage without a new field in
// backend.Spec; the package is internal, so nothing outside kavach can
// set it.
func WithInnerStage(ctx context.Context, st *InnerStage) context.Context {
	return context.WithValue(ctx, innerKey{}, st)
}

// innerStageFrom returns the stage set by WithInnerStage, or nil.
func innerStageFrom(ctx context.Context) *InnerStage {
	st, _ := ctx.Value(innerKey{}).(*InnerStage)
	return st
}

// encodeInner returns the init's argument for st: "" for none.
func encodeInner(st *InnerStage) string {
	if st == nil {
		return ""
	}
	b, err := json.Marshal(st)
	if err != nil {
		// Only plain types are marshalled; this cannot fail.
		panic(fmt.Sprintf("bundle: marshal inner stage: %v", err))
	}
	return string(b)
}

// decodeInner parses the init's argument written by encodeInner.
func decodeInner(s string) (*InnerStage, error) {
	if s == "" {
		return nil, nil
	}
	st := &InnerStage{}
	if err := json.Unmarshal([]byte(s), st); err != nil {
		return nil, fmt.Errorf("inner stage: %w", err)
	}
	return st, nil
}
