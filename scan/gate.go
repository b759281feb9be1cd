package scan

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// GatePolicy decides what the gate does with findings. Its JSON form is the
// original's ExternalizationPolicy.
type GatePolicy struct {
	// Enabled turns the gate on; a disabled gate passes everything unscanned.
	Enabled bool `json:"enabled"`
	// MaxArtifactSizeBytes bounds len(stdout)+len(stderr); larger output is
	// blocked. Zero or less means no bound.
	MaxArtifactSizeBytes int64 `json:"max_artifact_size_bytes"`
	// BlockThreshold and QuarantineThreshold are the lowest severities that
	// block or quarantine.
	BlockThreshold      Severity `json:"block_threshold"`
	QuarantineThreshold Severity `json:"quarantine_threshold"`
	// RedactSecrets makes Warn redact every finding's span.
	RedactSecrets bool `json:"redact_secrets"`
}

// DefaultGatePolicy returns the original's defaults (spec §4): enabled,
// 50 MiB, block at Critical, quarantine at High, redact.
func DefaultGatePolicy() GatePolicy {
	return GatePolicy{
		Enabled:              true,
		MaxArtifactSizeBytes: 50 << 20,
		BlockThreshold:       Critical,
		QuarantineThreshold:  High,
		RedactSecrets:        true,
	}
}

// Decide returns the verdict for the worst severity of n findings: Block at
// or above BlockThreshold, Quarantine at or above QuarantineThreshold, Warn
// for any other finding, Pass for none.
func (p GatePolicy) Decide(worst Severity, n int) Verdict {
	switch {
	case n == 0:
		return Pass
	case worst >= p.BlockThreshold:
		return Block
	case worst >= p.QuarantineThreshold:
		return Quarantine
	default:
		return Warn
	}
}

// Store keeps quarantined output; quarantine.Store implements it.
type Store interface {
	Put(ctx context.Context, artifact []byte, meta map[string]string) (id string, err error)
}

// Outcome is what the gate decided about one output.
type Outcome struct {
	Verdict Verdict `json:"verdict"`
	// Worst is the highest severity found (Info when nothing was found).
	Worst Severity `json:"worst"`
	// Findings carry Stream ("stdout" or "stderr") and offsets into it.
	Findings []Finding `json:"findings"`
	// Stdout and Stderr are what may leave the sandbox: unchanged on Pass,
	// redacted on Warn (when the policy redacts) and Quarantine, nil on
	// Block.
	Stdout []byte `json:"-"`
	Stderr []byte `json:"-"`
	// QuarantineID is the store's id of the original output on Quarantine.
	QuarantineID string `json:"quarantine_id,omitempty"`
}

// Gate scans output and applies a GatePolicy to it.
type Gate struct {
	policy   GatePolicy
	store    Store
	scanners []Scanner
}

// NewGate returns a gate with policy p. store may be nil, in which case a
// Quarantine verdict is an error. With no scanners the gate runs All().
func NewGate(p GatePolicy, store Store, scanners ...Scanner) *Gate {
	if len(scanners) == 0 {
		scanners = []Scanner{lazyAll{}}
	}
	return &Gate{policy: p, store: store, scanners: scanners}
}

// lazyAll is All() built on its first Scan rather than when the gate is
// made: building it compiles every rule (milliseconds of CPU), which a
// gate that is disabled or sees no output never needs, and which a
// caller can do in the background meanwhile (kavach run does).
type lazyAll struct{}

// Name returns "all", the name of All().
func (lazyAll) Name() string { return "all" }

// Scan scans b with All().
func (lazyAll) Scan(b []byte) []Finding { return allEngine().Scan(b) }

// Policy returns the gate's policy.
func (g *Gate) Policy() GatePolicy { return g.policy }

// Apply scans stdout and stderr, each on its own, and acts on the verdict:
//
//   - Pass: the output unchanged.
//   - Warn: the output with every finding's span replaced by
//     "[REDACTED:<category>]" (when RedactSecrets; else unchanged), and
//     anything the replacement uncovers replaced too (see RedactAll), so
//     the output passes the gate's scanners clean.
//   - Quarantine: the original stdout and stderr are stored as one artifact
//     (stdout then stderr; meta "stdout_bytes" and "stderr_bytes" give the
//     split) and the redacted output is returned with the store's id. With a
//     nil store, or when the store fails, Apply returns the Outcome without
//     output and an error (ErrNoStore or ErrStore).
//   - Block: no output and no error; the verdict is data.
//
// Output larger than MaxArtifactSizeBytes is blocked unscanned with one
// finding (rule "artifact-size", scanner "gate", Critical) that says so,
// rather than returning an error, so that the caller records it like any
// other block. A disabled gate passes the output unscanned.
func (g *Gate) Apply(ctx context.Context, stdout, stderr []byte) (*Outcome, error) {
	p := g.policy
	if !p.Enabled {
		return &Outcome{Verdict: Pass, Worst: Info, Stdout: stdout, Stderr: stderr}, nil
	}
	size := int64(len(stdout)) + int64(len(stderr))
	if p.MaxArtifactSizeBytes > 0 && size > p.MaxArtifactSizeBytes {
		f := Finding{
			Scanner: "gate", RuleID: "artifact-size", Category: "size_limit", Severity: Critical,
			Message: fmt.Sprintf("output size %d exceeds limit %d", size, p.MaxArtifactSizeBytes),
			Start:   0, End: len(stdout), Stream: "stdout",
		}
		return &Outcome{Verdict: Block, Worst: Critical, Findings: []Finding{f}}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("apply gate: %w", err)
	}
	var outF, errF []Finding
	for _, s := range g.scanners {
		outF = append(outF, withStream(s.Scan(stdout), "stdout")...)
		errF = append(errF, withStream(s.Scan(stderr), "stderr")...)
	}
	o := &Outcome{Findings: append(outF, errF...), Worst: Info}
	for _, f := range o.Findings {
		o.Worst = max(o.Worst, f.Severity)
	}
	o.Verdict = p.Decide(o.Worst, len(o.Findings))
	switch o.Verdict {
	case Pass:
		o.Stdout, o.Stderr = stdout, stderr
	case Warn:
		o.Stdout, o.Stderr = stdout, stderr
		if p.RedactSecrets {
			o.Stdout, o.Stderr = g.redact(stdout, outF), g.redact(stderr, errF)
		}
	case Quarantine:
		if g.store == nil {
			return o, fmt.Errorf("quarantine output: %w", ErrNoStore)
		}
		artifact := make([]byte, 0, len(stdout)+len(stderr))
		artifact = append(append(artifact, stdout...), stderr...)
		id, err := g.store.Put(ctx, artifact, quarantineMeta(o, len(stdout), len(stderr)))
		if err != nil {
			return o, fmt.Errorf("quarantine output: %w: %w", ErrStore, err)
		}
		o.QuarantineID = id
		o.Stdout, o.Stderr = g.redact(stdout, outF), g.redact(stderr, errF)
	case Block:
	}
	return o, nil
}

// redact redacts one stream to a fixed point of the gate's scanners (see
// RedactAll); findings are those already found in b.
func (g *Gate) redact(b []byte, findings []Finding) []byte {
	return redactFrom(b, findings, multi(g.scanners))
}

// multi runs several scanners as one.
type multi []Scanner

func (m multi) Name() string { return "multi" }

func (m multi) Scan(b []byte) []Finding {
	if len(m) == 1 {
		return m[0].Scan(b)
	}
	var fs []Finding
	for _, s := range m {
		fs = append(fs, s.Scan(b)...)
	}
	return fs
}

// quarantineMeta describes a quarantined artifact for the store.
func quarantineMeta(o *Outcome, nOut, nErr int) map[string]string {
	rules := make([]string, 0, len(o.Findings))
	seen := map[string]bool{}
	for _, f := range o.Findings {
		if !seen[f.RuleID] {
			seen[f.RuleID] = true
			rules = append(rules, f.RuleID)
		}
	}
	return map[string]string{
		"verdict":        o.Verdict.String(),
		"worst_severity": o.Worst.String(),
		"findings":       strconv.Itoa(len(o.Findings)),
		"rules":          strings.Join(rules, ","),
		"stdout_bytes":   strconv.Itoa(nOut),
		"stderr_bytes":   strconv.Itoa(nErr),
	}
}

func withStream(fs []Finding, stream string) []Finding {
	for i := range fs {
		fs[i].Stream = stream
	}
	return fs
}
