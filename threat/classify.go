package threat

import (
	"fmt"
	"math"
	"strings"

	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/scan"
)

// Stage is a kill-chain stage. The order is the original's:
// Reconnaissance < Weaponization < Delivery < Exploitation < Installation
// < CommandAndControl < Exfiltration.
type Stage int

// The kill-chain stages, in order.
const (
	Reconnaissance Stage = iota
	Weaponization
	Delivery
	Exploitation
	Installation
	CommandAndControl
	Exfiltration
	numStages
)

var stageNames = [...]string{"Reconnaissance", "Weaponization", "Delivery", "Exploitation", "Installation", "CommandAndControl", "Exfiltration"}

// String is the original's Display: snake case ("command_and_control").
func (s Stage) String() string {
	if s < 0 || s >= numStages {
		return fmt.Sprintf("stage(%d)", int(s))
	}
	return snake(stageNames[s])
}

// MarshalText encodes the original's serde name ("CommandAndControl").
func (s Stage) MarshalText() ([]byte, error) { return marshalName(stageNames[:], int(s), "stage") }

// UnmarshalText accepts the serde name or the snake-case form.
func (s *Stage) UnmarshalText(b []byte) error {
	return unmarshalName(stageNames[:], (*int)(s), b, "stage")
}

// Tier is the original's ThreatTier.
type Tier int

// The threat tiers, in increasing order.
const (
	Benign Tier = iota
	Suspicious
	LikelyMalicious
	Malicious
)

var tierNames = [...]string{"Benign", "Suspicious", "LikelyMalicious", "Malicious"}

// String returns the snake-case name ("likely_malicious").
func (t Tier) String() string {
	if t < Benign || t > Malicious {
		return fmt.Sprintf("tier(%d)", int(t))
	}
	return snake(tierNames[t])
}

// MarshalText encodes the original's serde name ("LikelyMalicious").
func (t Tier) MarshalText() ([]byte, error) { return marshalName(tierNames[:], int(t), "tier") }

// UnmarshalText accepts the serde name or the snake-case form.
func (t *Tier) UnmarshalText(b []byte) error {
	return unmarshalName(tierNames[:], (*int)(t), b, "tier")
}

// Escalation is the original's EscalationTier: what to do about it.
type Escalation int

// The escalation tiers, in increasing order.
const (
	Tier1Log Escalation = iota
	Tier2Alert
	Tier3Suspend
	Tier4Revoke
)

var escalationNames = [...]string{"Tier1Log", "Tier2Alert", "Tier3Suspend", "Tier4Revoke"}

// String returns the snake-case name ("tier3_suspend").
func (e Escalation) String() string {
	if e < Tier1Log || e > Tier4Revoke {
		return fmt.Sprintf("escalation(%d)", int(e))
	}
	return snake(escalationNames[e])
}

// MarshalText encodes the original's serde name ("Tier3Suspend").
func (e Escalation) MarshalText() ([]byte, error) {
	return marshalName(escalationNames[:], int(e), "escalation")
}

// UnmarshalText accepts the serde name or the snake-case form.
func (e *Escalation) UnmarshalText(b []byte) error {
	return unmarshalName(escalationNames[:], (*int)(e), b, "escalation")
}

// snake turns "CommandAndControl" into "command_and_control" and
// "Tier3Suspend" into "tier3_suspend".
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func marshalName(names []string, v int, what string) ([]byte, error) {
	if v < 0 || v >= len(names) {
		return nil, fmt.Errorf("marshal %s: %d out of range", what, v)
	}
	return []byte(names[v]), nil
}

func unmarshalName(names []string, v *int, b []byte, what string) error {
	for i, n := range names {
		if string(b) == n || string(b) == snake(n) {
			*v = i
			return nil
		}
	}
	return fmt.Errorf("parse %s %q", what, b)
}

// Assessment is the original's ThreatAssessment, plus ViolationCount.
type Assessment struct {
	IntentScore     float64    `json:"intent_score"`
	Classification  Tier       `json:"classification"`
	Escalation      Escalation `json:"escalation"`
	KillChainStages []Stage    `json:"kill_chain_stages"`
	FindingCount    int        `json:"finding_count"`
	ViolationCount  int        `json:"violation_count"`
}

// Weight is the original's per-finding severity weight.
func Weight(s scan.Severity) float64 {
	switch s {
	case scan.Info:
		return 0.05
	case scan.Low:
		return 0.15
	case scan.Medium:
		return 0.35
	case scan.High:
		return 0.60
	case scan.Critical:
		return 0.90
	}
	return 0
}

// StageOf maps a finding category to its kill-chain stage, as the
// original does; categories without a stage (api_key, high_entropy,
// compliance_*, anything unknown) report false.
func StageOf(category string) (Stage, bool) {
	switch category {
	case "pii_network":
		return Reconnaissance, true
	case "obfuscation", "crypto_misuse":
		return Weaponization, true
	case "supply_chain":
		return Delivery, true
	case "command_injection", "privilege_escalation":
		return Exploitation, true
	case "filesystem_abuse":
		return Installation, true
	case "data_exfiltration":
		return CommandAndControl, true
	case "cloud_credential", "api_token", "auth_token", "private_key", "connection_string", "credential", "pii", "pii_financial":
		return Exfiltration, true
	}
	return 0, false
}

// ViolationStage maps a guard violation type to a kill-chain stage. The
// choices follow the original's category mapping where an act is the
// same:
//
//   - shell_injection: Exploitation, like command_injection findings.
//   - sensitive_path: Exfiltration, like the credential categories: what
//     lives there (shadow hashes, SSH, cloud and kube keys) is taken to
//     be sent out.
//   - fork_bomb: Exploitation: an attack on the host's process table.
//   - integrity: Installation: code outside its namespace has a foothold
//     on the host.
//   - blocked_command and time_anomaly: no stage, like api_key and
//     high_entropy: a signal, not a step.
func ViolationStage(t guard.ViolationType) (Stage, bool) {
	switch t {
	case guard.ShellInjection, guard.ForkBomb:
		return Exploitation, true
	case guard.SensitivePath:
		return Exfiltration, true
	case guard.Integrity:
		return Installation, true
	}
	return 0, false
}

// Classify scores findings and violations. The findings are weighed
// exactly as the original's classify(findings): a sum (not an average) of
// Weight(severity) in slice order; then each violation adds
// Weight(guard.SeverityOf(type)), in slice order. The distinct stages of
// both (StageOf, ViolationStage) give the amplifier: ×1.5 for three or
// more, ×1.3 for two; the intent is min(1, sum × amplifier), and its tier
// follows TierOf.
func Classify(findings []scan.Finding, violations []guard.Violation) Assessment {
	a := Assessment{KillChainStages: []Stage{}, FindingCount: len(findings), ViolationCount: len(violations)}
	if len(findings) == 0 && len(violations) == 0 {
		return a
	}
	var seen [numStages]bool
	sum := 0.0
	for _, f := range findings {
		sum += Weight(f.Severity)
		if s, ok := StageOf(f.Category); ok {
			seen[s] = true
		}
	}
	for _, v := range violations {
		sum += Weight(guard.SeverityOf(v.Type))
		if s, ok := ViolationStage(v.Type); ok {
			seen[s] = true
		}
	}
	for s, ok := range seen {
		if ok {
			a.KillChainStages = append(a.KillChainStages, Stage(s))
		}
	}
	amplifier := 1.0
	switch n := len(a.KillChainStages); {
	case n >= 3:
		amplifier = 1.5
	case n == 2:
		amplifier = 1.3
	}
	a.IntentScore = math.Min(1.0, sum*amplifier)
	a.Classification, a.Escalation = TierOf(a.IntentScore)
	return a
}

// TierOf maps an intent score to the original's tiers: < 0.2 Benign
// (Tier1Log), < 0.5 Suspicious (Tier2Alert), < 0.8 LikelyMalicious
// (Tier3Suspend), otherwise Malicious (Tier4Revoke).
func TierOf(intent float64) (Tier, Escalation) {
	switch {
	case intent < 0.2:
		return Benign, Tier1Log
	case intent < 0.5:
		return Suspicious, Tier2Alert
	case intent < 0.8:
		return LikelyMalicious, Tier3Suspend
	}
	return Malicious, Tier4Revoke
}
