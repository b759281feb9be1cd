package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/policy"
)

func init() { register(newBackendsCmd) }

type backendRow struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
	// Score is what the backend would enforce here for the policy.
	Score *int   `json:"score,omitempty"`
	Label string `json:"label,omitempty"`
}

func newBackendsCmd() *cobra.Command {
	var asJSON bool
	var pol string
	c := &cobra.Command{
		Use:   "backends",
		Short: "List every backend: available or not, and the exact reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := policy.Resolve(pol)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var rows []backendRow
			for _, b := range kavach.Backends() {
				r := backendRow{Name: b.Kind().String(), Available: true, Reason: "ok"}
				if err := b.Available(ctx); err != nil {
					r.Available, r.Reason = false, err.Error()
				} else if e, err := b.Plan(ctx, p); err != nil {
					r.Reason = "cannot enforce policy " + pol + ": " + err.Error()
				} else {
					s := e.Score()
					r.Score, r.Label = &s.Value, s.Label
				}
				rows = append(rows, r)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "BACKEND\tAVAILABLE\tSCORE (%s)\tREASON\n", pol)
			for _, r := range rows {
				sc := "-"
				if r.Score != nil {
					sc = fmt.Sprintf("%d (%s)", *r.Score, r.Label)
				}
				avail := "no"
				if r.Available {
					avail = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, avail, sc, r.Reason)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVarP(&pol, "policy", "p", "basic", "policy preset or file the scores are for")
	return c
}
