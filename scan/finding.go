package scan

import (
	"fmt"
	"strings"
)

// Severity orders how bad a finding is: Info < Low < Medium < High < Critical.
// It marshals as the original's variant names ("Info", "Critical") and
// prints lower case, as kavach 1.0 does.
type Severity int

// The severities, in increasing order.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"Info", "Low", "Medium", "High", "Critical"}

// String returns the lower-case name ("high").
func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return strings.ToLower(severityNames[s])
}

// MarshalText encodes the original's variant name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Critical {
		return nil, fmt.Errorf("marshal severity: %d out of range", int(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText accepts the variant name in any case.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses a severity name case-insensitively.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(n, name) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("parse severity %q: want info, low, medium, high or critical", name)
}

// Verdict is what the gate decides about an output: Pass < Warn < Quarantine < Block.
type Verdict int

// The verdicts, in increasing order.
const (
	Pass Verdict = iota
	Warn
	Quarantine
	Block
)

var verdictNames = [...]string{"Pass", "Warn", "Quarantine", "Block"}

// String returns the lower-case name ("quarantine").
func (v Verdict) String() string {
	if v < Pass || v > Block {
		return fmt.Sprintf("verdict(%d)", int(v))
	}
	return strings.ToLower(verdictNames[v])
}

// MarshalText encodes the original's variant name.
func (v Verdict) MarshalText() ([]byte, error) {
	if v < Pass || v > Block {
		return nil, fmt.Errorf("marshal verdict: %d out of range", int(v))
	}
	return []byte(verdictNames[v]), nil
}

// UnmarshalText accepts the variant name in any case.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if strings.EqualFold(n, string(b)) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("parse verdict %q: want pass, warn, quarantine or block", b)
}

// Finding is one match of one rule in scanned bytes.
//
// Evidence is always redacted: it never holds the whole matched value.
type Finding struct {
	// Scanner is "secrets", "code" or "data".
	Scanner string `json:"scanner"`
	// RuleID names the rule that matched ("aws-access-key-id").
	RuleID string `json:"rule_id"`
	// Category is the original's category ("cloud_credential", "pii", …);
	// the threat classifier maps it to a kill-chain stage.
	Category string   `json:"category"`
	Severity Severity `json:"severity"`
	// Message is human readable ("AWS Access Key detected").
	Message string `json:"message"`
	// Start and End are the byte span [Start, End) of the match in the input.
	Start int `json:"start"`
	End   int `json:"end"`
	// Evidence is the redacted match: at most four leading and four
	// trailing bytes of it, never the whole value.
	Evidence string `json:"evidence,omitempty"`
	// Stream is "stdout" or "stderr" in findings returned by the gate
	// (Start and End are then offsets into that stream), empty otherwise.
	Stream string `json:"stream,omitempty"`
}

// String formats the finding without its evidence.
func (f Finding) String() string {
	return fmt.Sprintf("%s/%s %s [%d,%d)", f.Scanner, f.RuleID, f.Severity, f.Start, f.End)
}
