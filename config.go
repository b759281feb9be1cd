package kavach

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/threat"
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout   = 30 * time.Second // the original's timeout_ms default
	DefaultMaxOutput = 1 << 20          // bytes kept per stream
)

// Config describes a sandbox. The zero value is valid: the process
// backend with an empty (minimal) policy; use policy.Basic() for the
// original's default.
type Config struct {
	// Backend is the isolation to use (default backend.Process, as in the
	// original). With AutoBackend set it is ignored and ResolveBest picks the
	// strongest backend available here for Policy.
	Backend     backend.Kind
	AutoBackend bool
	// InnerBackend, when set, layers a second backend inside Backend for
	// real (the original's inner_backend, which never ran): with OCI or
	// gVisor outside and backend.Process inside, every command also passes
	// the process backend's last stage (no_new_privs, no capabilities,
	// Landlock, a second seccomp filter) inside the container. Enforced
	// lists both layers, and the score follows the composite rule.
	// Unsupported pairs fail Create with the reason.
	InnerBackend *backend.Kind
	Policy       policy.Policy
	// Timeout bounds every exec (default 30 s); the policy's timeout_ms and
	// the exec's context can only shorten it.
	Timeout time.Duration
	// Workdir is a host directory mounted read-write as the working
	// directory; empty means a fresh directory removed on Destroy.
	Workdir string
	// Env is added to every command's environment ("KEY=value"). The host's
	// environment is never inherited.
	Env []string
	// AgentID names the agent on whose behalf commands run (for the threat
	// tracker and the audit log).
	AgentID string
	// MaxOutput is the number of bytes kept per stream (default 1 MiB);
	// the rest is read and dropped, and Result.Truncated is set.
	MaxOutput int
	// Scan is the output gate's policy. nil means scan.DefaultGatePolicy():
	// every Exec's output is scanned for secrets, dangerous code and
	// personal data, redacted on Warn, stored on Quarantine and withheld on
	// Block. Set Enabled false to turn the gate off.
	Scan *scan.GatePolicy
	// Quarantine stores output that the gate quarantines. Without one, a
	// Quarantine verdict makes Exec fail (the output is withheld, never
	// silently dropped).
	Quarantine scan.Store
	// Guard configures the pre-exec checks (blocked commands, sensitive
	// paths, shell metacharacters). The zero value is the original's
	// defaults in report-only mode: violations are scored and audited, and
	// only the types listed in Guard.Deny refuse an exec.
	Guard guard.Config
	// Threat, when set with an AgentID, records every exec's threat
	// assessment for the agent. A suspended agent's execs fail with
	// threat.ErrSuspended; reaching Tier4 revokes the agent and destroys
	// all its sandboxes. Share one tracker between sandboxes.
	Threat *threat.OffenderTracker
	// Audit, when set, receives every lifecycle event and every exec
	// (argv with secrets redacted, exit, duration, score, findings,
	// violations, verdict, quarantine id, threat). Share one writer.
	Audit *audit.Writer
	// Secrets are credentials the commands can use without the caller
	// putting them in Env or on a command line: each is read from a host
	// env var or file when the sandbox starts and injected as an env var,
	// a 0400 file on a tmpfs inside the sandbox, or stdin. Their values are
	// redacted from all output.
	Secrets []credential.Injection
	// HeaderRules inject credentials into HTTP(S) requests to given hosts:
	// the egress proxy (used when Policy.Network allows a list of hosts)
	// adds the header, replacing any the client sent, so the command uses
	// the credential without ever holding it. A rule without a port applies
	// to HTTPS only (see credential.HeaderRule).
	HeaderRules []credential.HeaderRule
	// EgressRoots are CA certificates the egress proxy trusts for upstream
	// TLS besides the system roots (a private CA, or a test server's).
	EgressRoots []*x509.Certificate
	// Backends replaces the built-in backend list (for tests and embedding).
	Backends []backend.Backend
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) normalize() error {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: timeout %v is negative", ErrInvalidConfig, c.Timeout)
	}
	if c.MaxOutput == 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if c.MaxOutput < 0 {
		return fmt.Errorf("%w: max output %d is negative", ErrInvalidConfig, c.MaxOutput)
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Guard.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := validEnv(c.Env); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.Scan == nil {
		p := scan.DefaultGatePolicy()
		c.Scan = &p
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func validEnv(env []string) error {
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("env entry %q: want KEY=value without NUL", kv)
		}
	}
	return nil
}

// baseEnv is every command's starting environment: fixed values, never
// the host's, except TERM so that terminal programs behave.
func baseEnv(term string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/tmp",
		"LANG=C.UTF-8",
	}
	if term != "" && !strings.ContainsAny(term, "\x00\n") {
		env = append(env, "TERM="+term)
	}
	return env
}

// mergeEnv returns layers concatenated with later keys replacing earlier
// ones, in first-seen order.
func mergeEnv(layers ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range layers {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
