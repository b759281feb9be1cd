package kavach

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/threat"
)

// Audit event types written to Config.Audit.
const (
	EventCreate     = "sandbox.create"
	EventStart      = "sandbox.start"
	EventPause      = "sandbox.pause"
	EventResume     = "sandbox.resume"
	EventStop       = "sandbox.stop"
	EventDestroy    = "sandbox.destroy"
	EventExec       = "exec"
	EventExecDenied = "exec.denied"
	EventRevoke     = "agent.revoke"
)

// preExec runs before a command starts: the agent must not be suspended
// or revoked, and the guards check the command. Violations that the guard
// policy denies refuse the exec (and are audited); the others are
// returned to be scored.
func (s *Sandbox) preExec(ctx context.Context, cmd Command) ([]guard.Violation, error) {
	if t := s.cfg.Threat; t != nil && s.cfg.AgentID != "" {
		if err := t.Check(s.cfg.AgentID); err != nil {
			err = s.deny(ctx, cmd, nil, err)
			if errors.Is(err, threat.ErrRevoked) {
				// The agent may have been revoked elsewhere (another process
				// sharing the tracker file): end its sandboxes here too.
				err = errors.Join(err, revokeAgent(context.WithoutCancel(ctx), s.cfg.AgentID, s))
			}
			return nil, err
		}
	}
	vs := guard.CheckCommand(cmd.Args, s.cfg.Guard)
	if err := s.cfg.Guard.Enforce(vs); err != nil {
		return vs, s.deny(ctx, cmd, vs, err)
	}
	return vs, nil
}

func (s *Sandbox) deny(ctx context.Context, cmd Command, vs []guard.Violation, why error) error {
	err := fmt.Errorf("exec %s: %w", firstArg(cmd), why)
	if s.cfg.Audit == nil {
		return err
	}
	aerr := s.audit(ctx, EventExecDenied, map[string]any{
		"sandbox_id": s.id, "agent_id": s.cfg.AgentID, "argv": redactArgs(cmd.Args),
		"violations": vs, "reason": why.Error(),
	})
	return errors.Join(err, aerr)
}

// postExec scores what happened (findings and violations), updates the
// agent's offender record — revoking the agent's sandboxes at Tier4 — and
// audits the exec.
func (s *Sandbox) postExec(ctx context.Context, cmd Command, res *Result, vs []guard.Violation) error {
	// The pre-exec violations first, then those seen while it ran.
	res.Violations = append(vs, res.Violations...)
	vs = res.Violations
	res.Threat = threat.Classify(res.Findings, vs)
	var errs []error
	revoke := false
	if t := s.cfg.Threat; t != nil && s.cfg.AgentID != "" {
		esc, err := t.Record(context.WithoutCancel(ctx), s.cfg.AgentID, res.Threat)
		if err != nil {
			errs = append(errs, fmt.Errorf("record threat: %w", err))
		}
		revoke = esc >= threat.Tier4Revoke
	}
	if s.cfg.Audit != nil {
		errs = append(errs, s.auditExec(ctx, cmd, res, vs))
	}
	if revoke {
		errs = append(errs, revokeAgent(context.WithoutCancel(ctx), s.cfg.AgentID, s))
	}
	return errors.Join(errs...)
}

// auditExec records one exec; the payload (argv redacted by the
// scanners) is built only when there is an audit log.
func (s *Sandbox) auditExec(ctx context.Context, cmd Command, res *Result, vs []guard.Violation) error {
	return s.audit(ctx, EventExec, map[string]any{
		"sandbox_id":    s.id,
		"agent_id":      s.cfg.AgentID,
		"backend":       s.cfg.Backend.String(),
		"argv":          redactArgs(cmd.Args),
		"exit_code":     res.ExitCode,
		"termination":   string(res.Termination),
		"signal":        int(res.Signal),
		"duration_ms":   res.Duration.Milliseconds(),
		"score":         res.Score.Value,
		"verdict":       res.Verdict.String(),
		"findings":      auditFindings(res.Findings),
		"violations":    vs,
		"quarantine_id": res.QuarantineID,
		"threat":        res.Threat,
		"truncated":     res.Truncated,
	})
}

// auditFindings keeps what an auditor needs of each finding; the
// evidence is already redacted by the scanner.
func auditFindings(fs []scan.Finding) []map[string]any {
	out := make([]map[string]any, 0, len(fs))
	for _, f := range fs {
		out = append(out, map[string]any{
			"scanner": f.Scanner, "rule": f.RuleID, "category": f.Category, "severity": f.Severity.String(),
			"stream": f.Stream, "start": f.Start, "end": f.End, "evidence": f.Evidence,
		})
	}
	return out
}

// redactArgs hides what the scanners find in a command line (secrets,
// personal data) before it is logged.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		b := []byte(a)
		if fs := scan.All().Scan(b); len(fs) > 0 {
			b = scan.Redact(b, fs)
		}
		out[i] = string(b)
	}
	return out
}

func firstArg(cmd Command) string {
	if len(cmd.Args) == 0 {
		return ""
	}
	return cmd.Args[0]
}

// audit appends an event when the sandbox has an audit log.
func (s *Sandbox) audit(ctx context.Context, event string, payload map[string]any) error {
	if s.cfg.Audit == nil {
		return nil
	}
	if _, err := s.cfg.Audit.Append(context.WithoutCancel(ctx), event, payload); err != nil {
		return fmt.Errorf("audit %s: %w", event, err)
	}
	return nil
}

// agents maps agent ids to their live sandboxes, so that revoking an agent
// destroys every sandbox it has.
var agents = struct {
	sync.Mutex
	m map[string]map[*Sandbox]struct{}
}{m: map[string]map[*Sandbox]struct{}{}}

func trackAgent(s *Sandbox) {
	if s.cfg.AgentID == "" {
		return
	}
	agents.Lock()
	defer agents.Unlock()
	set := agents.m[s.cfg.AgentID]
	if set == nil {
		set = map[*Sandbox]struct{}{}
		agents.m[s.cfg.AgentID] = set
	}
	set[s] = struct{}{}
}

func untrackAgent(s *Sandbox) {
	if s.cfg.AgentID == "" {
		return
	}
	agents.Lock()
	defer agents.Unlock()
	delete(agents.m[s.cfg.AgentID], s)
	if len(agents.m[s.cfg.AgentID]) == 0 {
		delete(agents.m, s.cfg.AgentID)
	}
}

// revokeAgent destroys every live sandbox of agent (Tier4Revoke).
func revokeAgent(ctx context.Context, agent string, by *Sandbox) error {
	agents.Lock()
	var victims []*Sandbox
	for sb := range agents.m[agent] {
		victims = append(victims, sb)
	}
	agents.Unlock()
	errs := []error{by.audit(ctx, EventRevoke, map[string]any{"agent_id": agent, "sandboxes": len(victims)})}
	for _, sb := range victims {
		errs = append(errs, sb.Destroy(ctx))
	}
	return errors.Join(errs...)
}
