package guard

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kavach-go/kavach/scan"
)

// ViolationType names what a guard found. Its value is the original's
// Display string ("fork_bomb"), which is also how it reads in JSON and
// TOML configuration.
type ViolationType string

// The violation types. The first five are the original's; Integrity is
// new: a namespace that the in-sandbox check proved shared with the host.
const (
	ForkBomb       ViolationType = "fork_bomb"
	SensitivePath  ViolationType = "sensitive_path"
	BlockedCommand ViolationType = "blocked_command"
	ShellInjection ViolationType = "shell_injection"
	TimeAnomaly    ViolationType = "time_anomaly"
	Integrity      ViolationType = "integrity"
)

// Types lists every ViolationType, in declaration order.
func Types() []ViolationType {
	return []ViolationType{ForkBomb, SensitivePath, BlockedCommand, ShellInjection, TimeAnomaly, Integrity}
}

// Valid reports whether t is one of Types.
func (t ViolationType) Valid() bool { return slices.Contains(Types(), t) }

// SeverityOf is the documented severity of each violation type. The
// threat classifier weighs a violation by this value (never by a
// caller-set Violation.Severity), so a violation cannot be made to count
// less by building it by hand:
//
//   - BlockedCommand Info: unless Config.Deny refuses it, the policy lets
//     it run, and an interpreter or compiler is often the job itself. The
//     offender tracker adds up every exec: at Low (0.15), an agent that
//     runs python3 once a minute reaches 4.96 within the hour and is
//     suspended; at Info (0.05) it stays at 1.65 (alert).
//   - SensitivePath High: credential stores and kernel memory have no
//     business in an untrusted command line.
//   - ShellInjection High: the original's command_injection code findings
//     are High or Critical; a script that pipes into a shell or opens
//     /dev/tcp is the same act.
//   - ForkBomb High: the pids limit was hit or nearly hit.
//   - TimeAnomaly Low: slowness alone proves little.
//   - Integrity Critical: the sandbox's namespace is shared with the host.
//
// An unknown type is Info too.
func SeverityOf(t ViolationType) scan.Severity {
	switch t {
	case BlockedCommand:
		return scan.Info
	case TimeAnomaly:
		return scan.Low
	case SensitivePath, ShellInjection, ForkBomb:
		return scan.High
	case Integrity:
		return scan.Critical
	}
	return scan.Info
}

// Violation is one hit of one guard.
type Violation struct {
	Type ViolationType `json:"type"`
	// Severity is SeverityOf(Type); it is informational (see SeverityOf).
	Severity scan.Severity `json:"severity"`
	// Description is human readable ("blocked command: python3").
	Description string `json:"description"`
	// Match is what matched: the command name, the path or metacharacter
	// pattern, the namespace name; empty for counters.
	Match string `json:"match,omitempty"`
}

func (v Violation) String() string { return string(v.Type) + ": " + v.Description }

func newViolation(t ViolationType, match, format string, args ...any) Violation {
	return Violation{Type: t, Severity: SeverityOf(t), Description: fmt.Sprintf(format, args...), Match: match}
}

// Config configures the guards. The zero Config is the original's default
// (RuntimeGuardConfig::default) plus the new fields' defaults, so a guard
// cannot be switched off by forgetting to fill a struct: checks are turned
// off with Disable* fields, and a nil list means the default list (an
// empty non-nil list means an empty one). DefaultConfig returns the same
// configuration with every field spelt out.
type Config struct {
	// DisableCommandBlocklist is the original's enforce_command_blocklist
	// = false.
	DisableCommandBlocklist bool `json:"disable_command_blocklist,omitempty"`
	// DisableSensitivePaths is the original's block_sensitive_paths = false.
	DisableSensitivePaths bool `json:"disable_sensitive_paths,omitempty"`
	// DisableShellMetachars turns off the metacharacter check, which the
	// original always ran.
	DisableShellMetachars bool `json:"disable_shell_metachars,omitempty"`

	// BlockedCommands are basenames compared exactly (case-sensitive).
	// Nil means the original's list (see DefaultConfig).
	BlockedCommands []string `json:"blocked_commands"`
	// SensitivePaths are lower-case substrings searched in every argument.
	// Nil means the original's list (see DefaultConfig).
	SensitivePaths []string `json:"sensitive_paths"`
	// ShellMetachars are patterns searched in shell -c scripts. Nil means
	// the original's list (see DefaultConfig).
	ShellMetachars []string `json:"shell_metachars"`
	// Shells are the basenames whose -c argument is a script. Nil means
	// sh, bash, zsh, fish, dash, csh, tcsh, ksh, mksh, ash, yash, posh.
	Shells []string `json:"shells"`

	// MaxPids is the original's max_pids: CheckForkBomb reports a count
	// above it. Zero means 64.
	MaxPids int `json:"max_pids,omitempty"`
	// PidsNearFraction says when pids.current is "near" a finite pids.max:
	// current ≥ PidsNearFraction × max. Zero means 0.9.
	PidsNearFraction float64 `json:"pids_near_fraction,omitempty"`
	// TimeAnomalyMultiplier is the original's time_anomaly_multiplier.
	// Zero means 2.0.
	TimeAnomalyMultiplier float64 `json:"time_anomaly_multiplier,omitempty"`

	// Deny lists the violation types that refuse an exec (Enforce). Nil
	// or empty denies nothing, as in the original, whose guards never
	// stopped anything: violations are then reported and scored only.
	Deny []ViolationType `json:"deny"`
}

// The original's default lists, in its order. They are unexported so
// that no caller can change the defaults of every Config at once;
// DefaultConfig hands out copies.
var (
	// defaultBlockedCommands is the original's BLOCKED_COMMANDS (26).
	defaultBlockedCommands = []string{
		"bash", "sh", "zsh", "fish", "dash", "csh", "tcsh",
		"python", "python3", "perl", "ruby", "php", "lua", "node", "deno", "bun",
		"gcc", "cc", "g++", "clang", "make", "cmake", "cargo", "go", "rustc", "javac",
	}
	// defaultSensitivePaths is the original's SENSITIVE_PATHS (15).
	defaultSensitivePaths = []string{
		"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/", "/.ssh/", "/.gnupg/",
		"/.aws/", "/.kube/", "/.docker/", "/dev/mem", "/dev/kmem", "/dev/port",
		"/proc/kcore", "/proc/sysrq-trigger", "/sys/firmware/efi/efivars",
	}
	// defaultShellMetachars is the original's SHELL_METACHAR_PATTERNS (11).
	defaultShellMetachars = []string{
		"| sh", "| bash", "; sh", "; bash", "| /bin/sh", "| /bin/bash",
		"`", "$(", "${", "/dev/tcp", "mkfifo",
	}
	// defaultShells are the programs whose -c option takes a script.
	defaultShells = []string{"sh", "bash", "zsh", "fish", "dash", "csh", "tcsh", "ksh", "mksh", "ash", "yash", "posh"}
)

// The defaults of the scalar fields.
const (
	DefaultMaxPids               = 64
	DefaultPidsNearFraction      = 0.9
	DefaultTimeAnomalyMultiplier = 2.0
)

// DefaultConfig returns the zero Config's behaviour with every field
// filled in.
func DefaultConfig() Config {
	return Config{
		BlockedCommands:       slices.Clone(defaultBlockedCommands),
		SensitivePaths:        slices.Clone(defaultSensitivePaths),
		ShellMetachars:        slices.Clone(defaultShellMetachars),
		Shells:                slices.Clone(defaultShells),
		MaxPids:               DefaultMaxPids,
		PidsNearFraction:      DefaultPidsNearFraction,
		TimeAnomalyMultiplier: DefaultTimeAnomalyMultiplier,
		Deny:                  []ViolationType{},
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.MaxPids < 0:
		return fmt.Errorf("validate guard config: max_pids %d < 0: %w", c.MaxPids, ErrInvalidConfig)
	case math.IsNaN(c.PidsNearFraction) || c.PidsNearFraction < 0 || c.PidsNearFraction > 1:
		return fmt.Errorf("validate guard config: pids_near_fraction %v not in [0, 1]: %w", c.PidsNearFraction, ErrInvalidConfig)
	case math.IsNaN(c.TimeAnomalyMultiplier) || math.IsInf(c.TimeAnomalyMultiplier, 0) || c.TimeAnomalyMultiplier < 0:
		return fmt.Errorf("validate guard config: time_anomaly_multiplier %v: %w", c.TimeAnomalyMultiplier, ErrInvalidConfig)
	}
	for _, t := range c.Deny {
		if !t.Valid() {
			return fmt.Errorf("validate guard config: deny: unknown violation type %q: %w", t, ErrInvalidConfig)
		}
	}
	for _, p := range c.SensitivePaths {
		if p == "" || p != strings.ToLower(p) {
			return fmt.Errorf("validate guard config: sensitive path %q must be non-empty lower case: %w", p, ErrInvalidConfig)
		}
	}
	for _, p := range c.ShellMetachars {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("validate guard config: empty shell metacharacter pattern: %w", ErrInvalidConfig)
		}
	}
	return nil
}

func orDefault[T any](v, def []T) []T {
	if v == nil {
		return def
	}
	return v
}

func (c Config) blockedCommands() []string {
	return orDefault(c.BlockedCommands, defaultBlockedCommands)
}
func (c Config) sensitivePaths() []string { return orDefault(c.SensitivePaths, defaultSensitivePaths) }
func (c Config) shellMetachars() []string { return orDefault(c.ShellMetachars, defaultShellMetachars) }
func (c Config) shells() []string         { return orDefault(c.Shells, defaultShells) }

func (c Config) maxPids() int {
	if c.MaxPids == 0 {
		return DefaultMaxPids
	}
	return c.MaxPids
}

func (c Config) pidsNearFraction() float64 {
	if c.PidsNearFraction == 0 {
		return DefaultPidsNearFraction
	}
	return c.PidsNearFraction
}

func (c Config) timeAnomalyMultiplier() float64 {
	if c.TimeAnomalyMultiplier == 0 {
		return DefaultTimeAnomalyMultiplier
	}
	return c.TimeAnomalyMultiplier
}

// Denies reports whether violations of type t refuse an exec.
func (c Config) Denies(t ViolationType) bool { return slices.Contains(c.Deny, t) }

// Enforce returns nil when no violation's type is in Deny, and otherwise a
// *DeniedError, which matches ErrDenied, holding the denying violations.
func (c Config) Enforce(vs []Violation) error {
	var denied []Violation
	for _, v := range vs {
		if c.Denies(v.Type) {
			denied = append(denied, v)
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return &DeniedError{Violations: denied}
}

// DeniedError lists the violations that refused an exec.
type DeniedError struct {
	Violations []Violation
}

func (e *DeniedError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return "guard: exec denied: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }
