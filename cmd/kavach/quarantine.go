package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach/quarantine"
)

func init() { register(newQuarantineCmd) }

// exitQuarantineRefused is the exit status when the store refuses the
// request: unknown id, or a change the item's status does not allow.
const exitQuarantineRefused = 1

type quarantineFlags struct {
	dir    string
	by     string
	asJSON bool
	output string
}

func newQuarantineCmd() *cobra.Command {
	var f quarantineFlags
	c := &cobra.Command{
		Use:   "quarantine list|show|approve|reject|release",
		Short: "Manage output held back by the scanner gate",
		Long: `Manage the quarantine store: outputs that the scanner gate held back.

Items move Quarantined -> Approved -> Released, or Quarantined -> Rejected.
The held bytes come out only with "release", once, after approval.

The store is --dir, by default $XDG_DATA_HOME/kavach/quarantine, or
~/.local/share/kavach/quarantine when XDG_DATA_HOME is not set.

Exit status: 0 done; 1 refused (unknown id, or a change the item's status does
not allow); 125 kavach failed (bad id or flags, unreadable store).`,
		Args: cobra.NoArgs,
	}
	c.PersistentFlags().StringVar(&f.dir, "dir", "", "quarantine directory (default $XDG_DATA_HOME/kavach/quarantine)")

	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List every item, oldest first",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runQuarantineList(cmd, &f) },
	}
	list.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")

	show := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show an item's metadata (never its content)",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runQuarantineShow(cmd, args[0], &f) },
	}
	show.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")

	approve := &cobra.Command{
		Use:   "approve ID [--by NAME]",
		Short: "Approve a quarantined item for release",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuarantineChange(cmd, args[0], &f, (*quarantine.Store).Approve)
		},
	}
	reject := &cobra.Command{
		Use:   "reject ID [--by NAME]",
		Short: "Reject a quarantined item; it can never be released",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuarantineChange(cmd, args[0], &f, (*quarantine.Store).Reject)
		},
	}
	release := &cobra.Command{
		Use:   "release ID [--by NAME] [-o FILE]",
		Short: "Release an approved item: write its bytes to stdout or FILE",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runQuarantineRelease(cmd, args[0], &f) },
	}
	release.Flags().StringVarP(&f.output, "output", "o", "", "write the artifact to FILE (created, mode 0600) instead of stdout")
	for _, sub := range []*cobra.Command{approve, reject, release} {
		sub.Flags().StringVar(&f.by, "by", "", "who decides (default: the current user's name)")
	}
	c.AddCommand(list, show, approve, reject, release)
	return c
}

func openQuarantine(f *quarantineFlags) (*quarantine.Store, error) {
	dir := f.dir
	if dir == "" {
		d, err := quarantine.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return quarantine.New(dir)
}

func decider(f *quarantineFlags) string {
	if f.by != "" {
		return f.by
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// quarantineErr maps the store's refusals to exit status 1.
func quarantineErr(err error) error {
	if errors.Is(err, quarantine.ErrNotFound) || errors.Is(err, quarantine.ErrInvalidTransition) {
		return exitCode(exitQuarantineRefused, err)
	}
	return err
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func runQuarantineList(cmd *cobra.Command, f *quarantineFlags) error {
	s, err := openQuarantine(f)
	if err != nil {
		return err
	}
	items, listErr := s.List(cmd.Context())
	if items == nil {
		items = []quarantine.Metadata{}
	}
	if listErr != nil && len(items) == 0 && !errors.Is(listErr, quarantine.ErrCorrupt) {
		return listErr
	}
	if f.asJSON {
		if err := printJSON(cmd, items); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tQUARANTINED\tSIZE\tVERDICT\tSEVERITY\tSANDBOX")
		for _, m := range items {
			sandbox := "-"
			if m.SandboxID != nil {
				sandbox = *m.SandboxID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Status, m.QuarantinedAt.UTC().Format(time.RFC3339),
				m.Size, m.ScanResult.Verdict, m.ScanResult.WorstSeverity, sandbox)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if listErr != nil {
		return exitCode(exitQuarantineRefused, listErr)
	}
	return nil
}

func runQuarantineShow(cmd *cobra.Command, id string, f *quarantineFlags) error {
	s, err := openQuarantine(f)
	if err != nil {
		return err
	}
	m, err := s.Get(cmd.Context(), id)
	if err != nil {
		return quarantineErr(err)
	}
	if f.asJSON {
		return printJSON(cmd, m)
	}
	out := cmd.OutOrStdout()
	opt := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	optTime := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(out, "id:             %s\n", m.ID)
	fmt.Fprintf(out, "status:         %s\n", m.Status)
	fmt.Fprintf(out, "quarantined at: %s\n", m.QuarantinedAt.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(out, "sandbox:        %s\n", opt(m.SandboxID))
	fmt.Fprintf(out, "agent:          %s\n", opt(m.AgentID))
	fmt.Fprintf(out, "verdict:        %s (worst severity %s, %d findings recorded)\n", m.ScanResult.Verdict, m.ScanResult.WorstSeverity, len(m.ScanResult.Findings))
	fmt.Fprintf(out, "size:           %d bytes\n", m.Size)
	if m.SHA256 != "" {
		fmt.Fprintf(out, "sha256:         %s\n", m.SHA256)
	}
	fmt.Fprintf(out, "approved:       %s at %s\n", opt(m.ApprovedBy), optTime(m.ApprovedAt))
	if m.RejectedAt != nil {
		fmt.Fprintf(out, "rejected:       %s at %s\n", opt(m.RejectedBy), optTime(m.RejectedAt))
	}
	if m.ReleasedAt != nil {
		fmt.Fprintf(out, "released:       %s at %s\n", opt(m.ReleasedBy), optTime(m.ReleasedAt))
	}
	for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
		fmt.Fprintf(out, "label %s: %s\n", k, m.Labels[k])
	}
	return nil
}

// changeFunc is Store.Approve or Store.Reject.
type changeFunc func(s *quarantine.Store, ctx context.Context, id, by string) (quarantine.Metadata, error)

func runQuarantineChange(cmd *cobra.Command, id string, f *quarantineFlags, change changeFunc) error {
	s, err := openQuarantine(f)
	if err != nil {
		return err
	}
	m, err := change(s, cmd.Context(), id, decider(f))
	if err != nil {
		return quarantineErr(err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", m.ID, m.Status)
	return nil
}

func runQuarantineRelease(cmd *cobra.Command, id string, f *quarantineFlags) error {
	s, err := openQuarantine(f)
	if err != nil {
		return err
	}
	// The output file is created before the release, so a release is never
	// spent on a path that cannot be written.
	var out *os.File
	if f.output != "" {
		if out, err = os.OpenFile(f.output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return err
		}
		defer out.Close()
	}
	artifact, m, err := s.Release(cmd.Context(), id, decider(f))
	if err != nil {
		if out != nil {
			out.Close()
			os.Remove(f.output)
		}
		return quarantineErr(err)
	}
	if out == nil {
		_, err = cmd.OutOrStdout().Write(artifact)
		return err
	}
	if _, err := out.Write(artifact); err != nil {
		return fmt.Errorf("write released artifact %s (it stays in %s/%s): %w", f.output, s.Dir(), m.ID, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("write released artifact %s: %w", f.output, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "released %s: %d bytes to %s\n", m.ID, len(artifact), f.output)
	return out.Close()
}
