package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/score"
)

func init() { register(newScoreCmd) }

type scoreFlags struct {
	backend   string
	policy    string
	network   bool
	noNetwork bool
	enforced  bool
	reasons   bool
	asJSON    bool
}

// scoreView is `kavach score --json`'s output.
type scoreView struct {
	Backend string `json:"backend"`
	Policy  string `json:"policy"`
	// Enforced is true when the score is of what the backend would
	// enforce here, false when it is the original's score of the request.
	Enforced bool `json:"enforced"`
	score.Score
	Plan *backend.Enforced `json:"plan,omitempty"`
}

func newScoreCmd() *cobra.Command {
	var f scoreFlags
	c := &cobra.Command{
		Use:   "score -b BACKEND -p POLICY",
		Short: `Print the strength score of a backend and policy, e.g. "65 (standard)"`,
		Long: `Print the strength score (0-100) of a backend and policy.

By default this is kavach 1.0's score of the requested policy, so numbers
match the original's ("65 (standard)" for process strict). With --enforced
it asks the backend what it would really enforce on this host and scores
that, with the reason for every point; this is the score sandboxes report.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runScore(cmd, &f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.backend, "backend", "b", "process", "backend: process|gvisor|oci|wasm|firecracker|sgx|sev|tdx|sy-agnos|noop|auto")
	fl.StringVarP(&f.policy, "policy", "p", "basic", "policy: minimal|basic|strict or a .json/.toml file")
	fl.BoolVar(&f.network, "network", false, "score with the network allowed")
	fl.BoolVar(&f.noNetwork, "no-network", false, "score with the network off (the presets' default; kept for the original's CLI)")
	fl.BoolVar(&f.enforced, "enforced", false, "score what the backend would enforce on this host, not the request")
	fl.BoolVar(&f.reasons, "reasons", false, "print the reason for every point")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	c.MarkFlagsMutuallyExclusive("network", "no-network")
	return c
}

func runScore(cmd *cobra.Command, f *scoreFlags) error {
	p, err := policy.Resolve(f.policy)
	if err != nil {
		return err
	}
	if f.network {
		p.Network.Enabled = true
	}
	if f.noNetwork {
		p.Network.Enabled = false
	}
	ctx := cmd.Context()
	view := scoreView{Policy: f.policy, Enforced: f.enforced}
	switch {
	case f.enforced:
		b, err := pickBackend(cmd, f.backend, p)
		if err != nil {
			return err
		}
		if err := b.Available(ctx); err != nil {
			return err
		}
		e, err := b.Plan(ctx, p)
		if err != nil {
			return fmt.Errorf("%s cannot enforce policy %s here: %w", b.Kind(), f.policy, err)
		}
		view.Backend, view.Score, view.Plan = b.Kind().String(), e.Score(), &e
	case f.backend == "auto":
		return fmt.Errorf("-b auto needs --enforced: the strongest backend depends on what this host can enforce")
	default:
		k, err := backend.ParseKind(f.backend)
		if err != nil {
			return err
		}
		view.Backend, view.Score = k.String(), score.Policy(k.String(), p)
	}
	w := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(view)
	}
	fmt.Fprintln(w, view.Score)
	if f.reasons || f.enforced {
		for _, r := range view.Score.Reasons {
			fmt.Fprintf(w, "  %s\n", r)
		}
		if view.Plan != nil {
			for _, d := range view.Plan.Downgrades {
				fmt.Fprintf(w, "  not applied: %s\n", d)
			}
			for _, u := range view.Plan.Unenforced {
				fmt.Fprintf(w, "  never enforced by %s: %s\n", view.Backend, u)
			}
		}
	}
	return nil
}

// pickBackend returns the backend named by name, or the strongest one
// available for p when name is "auto".
func pickBackend(cmd *cobra.Command, name string, p policy.Policy) (backend.Backend, error) {
	bs := kavach.Backends()
	if name == "auto" {
		return backend.ResolveBest(cmd.Context(), bs, p)
	}
	k, err := backend.ParseKind(name)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.Kind() == k {
			return b, nil
		}
	}
	return nil, backend.Unavailable(k, "not compiled into this build")
}
