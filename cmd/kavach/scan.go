package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/scan/mapfile"
)

func init() { register(newScanCmd) }

// scanFinding is one finding in `kavach scan --json`; start and end are
// byte offsets into the input.
type scanFinding struct {
	Scanner  string        `json:"scanner"`
	Rule     string        `json:"rule"`
	Category string        `json:"category"`
	Severity scan.Severity `json:"severity"`
	Start    int           `json:"start"`
	End      int           `json:"end"`
	Evidence string        `json:"evidence"`
	Message  string        `json:"message"`
}

type scanReport struct {
	Verdict  scan.Verdict  `json:"verdict"`
	Worst    scan.Severity `json:"worst_severity"`
	Findings []scanFinding `json:"findings"`
}

// Exit codes of kavach scan, one per verdict.
var scanExit = map[scan.Verdict]int{scan.Pass: 0, scan.Warn: 1, scan.Quarantine: 2, scan.Block: 3}

func newScanCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "scan [FILE|-]",
		Short: "Scan a file or stdin for secrets, dangerous code and personal data",
		Long: `Scan runs the secrets, code and data scanners over FILE (or stdin when FILE
is "-" or absent) and decides a verdict with the default gate policy: block
at Critical, quarantine at High, warn on anything else.

Exit status: 0 pass, 1 warn, 2 quarantine, 3 block, 125 when the input
cannot be read.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			rep := scanReport{Worst: scan.Info, Findings: []scanFinding{}}
			emit := func(f scan.Finding) error {
				rep.Worst = max(rep.Worst, f.Severity)
				rep.Findings = append(rep.Findings, scanFinding{
					Scanner: f.Scanner, Rule: f.RuleID, Category: f.Category, Severity: f.Severity,
					Start: f.Start, End: f.End, Evidence: f.Evidence, Message: f.Message,
				})
				return nil
			}
			if err := scanInput(ctx, cmd, args, emit); err != nil {
				return err
			}
			rep.Verdict = scan.DefaultGatePolicy().Decide(rep.Worst, len(rep.Findings))
			if err := writeScanReport(cmd.OutOrStdout(), rep, asJSON); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			if code := scanExit[rep.Verdict]; code != 0 {
				return exitCode(code, nil)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"verdict", "findings": [...]} as JSON`)
	return c
}

// scanInput scans FILE, or stdin for "-" or no argument, with all three
// scanners. Offsets are into the whole input. A regular file is mapped and
// scanned in place (no copy, and windows that overlap less: RATIONALE,
// "Why does kavach scan map the file?"); anything else, or a file that
// cannot be mapped, streams through windows of a few MiB, so that memory
// stays bounded whatever the input size.
func scanInput(ctx context.Context, cmd *cobra.Command, args []string, emit func(scan.Finding) error) error {
	if len(args) == 0 || args[0] == "-" {
		_, err := scan.Stream(ctx, cmd.InOrStdin(), scan.All(), emit)
		return err
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	defer f.Close()
	m, err := mapfile.Map(f)
	if err != nil {
		if !errors.Is(err, mapfile.ErrNotMappable) {
			return fmt.Errorf("read input: %w", err)
		}
		_, err = scan.Stream(ctx, f, scan.All(), emit)
		return err
	}
	defer m.Close()
	// A file truncated while mapped makes the read fault; Guard turns the
	// fault into an error (exit 125) instead of a crash.
	err = mapfile.Guard(func() error { return scan.StreamBytes(ctx, m.Bytes(), scan.All(), emit, m.Release) })
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

func writeScanReport(w io.Writer, rep scanReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(rep.Findings) > 0 {
		fmt.Fprintln(tw, "SPAN\tSEVERITY\tSCANNER/RULE\tCATEGORY\tEVIDENCE")
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(tw, "%d-%d\t%s\t%s/%s\t%s\t%s\n", f.Start, f.End, f.Severity, f.Scanner, f.Rule, f.Category, f.Evidence)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "verdict: %s (%d findings, worst %s)\n", rep.Verdict, len(rep.Findings), rep.Worst)
	return err
}
