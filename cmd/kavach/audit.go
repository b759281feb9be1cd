package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach/audit"
)

func init() { register(newAuditCmd) }

// Exit codes of `kavach audit verify`.
const (
	exitAuditIntact   = 0
	exitAuditTampered = 1
)

func newAuditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check tamper-evident audit logs",
		Long: `Check the HMAC-SHA256 audit chains that kavach writes (kavach run --audit-log),
in kavach 1.0's JSON Lines format, with their <log>.checkpoint.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newAuditVerifyCmd())
	return c
}

type auditVerifyFlags struct {
	keyFile           string
	asJSON            bool
	requireCheckpoint bool
}

// auditVerifyView is `kavach audit verify --json`'s output.
type auditVerifyView struct {
	File   string `json:"file"`
	Intact bool   `json:"intact"`
	*audit.Report
	// FirstBadSerial, Line and Reason name the first record that failed.
	FirstBadSerial *uint64 `json:"first_bad_serial,omitempty"`
	Line           int     `json:"line,omitempty"`
	Reason         string  `json:"reason,omitempty"`
}

func newAuditVerifyCmd() *cobra.Command {
	var f auditVerifyFlags
	c := &cobra.Command{
		Use:   "verify FILE --key-file K [--json]",
		Short: "Verify an audit log: exit 0 intact, 1 tampered",
		Long: `Verify every record of an audit log: canonical encoding, serials 0,1,2,...,
each prev_hmac equal to the previous hmac, each HMAC-SHA256 right for the key,
and the signed checkpoint (<FILE>.checkpoint) matching, so a cut tail is found.

Exit status: 0 when the log is intact, 1 when it was tampered with (the first
bad serial and the reason are printed), 125 when it could not be checked
(missing file, unreadable key). A log without a checkpoint verifies with a
warning that truncation cannot be detected; --require-checkpoint makes it
fail instead (exit 1), as it does a log whose last records the checkpoint
does not cover: deleting the checkpoint and cutting the log's tail together
is otherwise undetectable.

The key file's bytes are the key, used as they are (a trailing newline is part
of the key). The key is never printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAuditVerify(cmd, args[0], &f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.keyFile, "key-file", "", "file holding the HMAC key (required)")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fl.BoolVar(&f.requireCheckpoint, "require-checkpoint", false, "fail unless a checkpoint vouches for every record")
	_ = c.MarkFlagRequired("key-file")
	return c
}

func runAuditVerify(cmd *cobra.Command, file string, f *auditVerifyFlags) error {
	key, err := audit.LoadKey(f.keyFile)
	if err != nil {
		return err
	}
	defer clear(key)
	warnLooseKey(cmd.ErrOrStderr(), f.keyFile)
	rep, err := audit.Verify(cmd.Context(), file, key)
	var ce *audit.ChainError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	unanchored := err == nil && f.requireCheckpoint && (!rep.Checkpoint || rep.CheckpointRecords < rep.Records)
	if unanchored {
		// The records verified, but nothing vouches that the log ends where
		// it does: the first record the checkpoint does not cover (or 0).
		reason := "no checkpoint (" + audit.CheckpointSuffix + " file): the log's end cannot be verified"
		if rep.Checkpoint {
			reason = fmt.Sprintf("the checkpoint vouches for %d of %d records: the log's end cannot be verified", rep.CheckpointRecords, rep.Records)
		}
		ce = &audit.ChainError{Serial: rep.CheckpointRecords, Reason: reason}
		err = ce
	}
	view := auditVerifyView{File: file, Intact: err == nil, Report: rep}
	if view.Report == nil {
		view.Report = &audit.Report{}
	}
	if ce != nil {
		view.FirstBadSerial, view.Line, view.Reason = &ce.Serial, ce.Line, ce.Reason
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(view); err != nil {
			return err
		}
	} else {
		if view.Intact {
			fmt.Fprintf(out, "intact: %d records", view.Records)
			if view.Records > 0 {
				fmt.Fprintf(out, ", last serial %d", view.LastSerial)
			}
			if view.Checkpoint {
				fmt.Fprintf(out, ", checkpoint covers %d", view.CheckpointRecords)
			}
			fmt.Fprintln(out)
		} else if unanchored {
			fmt.Fprintf(out, "NOT VERIFIED: %d records verified, but %s\n", view.Records, ce.Reason)
		} else {
			fmt.Fprintf(out, "TAMPERED: first bad serial %d (line %d): %s\n", ce.Serial, ce.Line, ce.Reason)
			fmt.Fprintf(out, "%d records verified before it\n", view.Records)
		}
		for _, w := range view.Warnings {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
	}
	if ce != nil {
		return exitCode(exitAuditTampered, ce)
	}
	return exitCode(exitAuditIntact, nil)
}

// warnLooseKey warns when an audit key file can be read by group or
// others: whoever can read the key can rewrite the whole chain
// undetected.
func warnLooseKey(w io.Writer, path string) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(w, "kavach: warning: key file %s is accessible by group or others (mode %v)\n", path, fi.Mode().Perm())
	}
}
