package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/score"
	"github.com/kavach-go/kavach/threat"
)

// createRequest is POST /v1/sandboxes's body.
type createRequest struct {
	// Backend is a kind name or "auto"; empty means the server's default.
	Backend string `json:"backend,omitempty"`
	// Policy is a preset name ("minimal", "basic", "strict") or a policy
	// object with kavach 1.0's field names; empty means the server's
	// default.
	Policy json.RawMessage `json:"policy,omitempty"`
	Limits limits          `json:"limits"`
	// Env is added to every command's environment ("KEY=value").
	Env []string `json:"env,omitempty"`
}

// limits override the policy's resource limits and the exec bounds.
type limits struct {
	MemoryMB       uint64  `json:"memory_mb,omitempty" jsonschema:"memory limit in MiB"`
	CPUs           float64 `json:"cpus,omitempty" jsonschema:"CPU limit in CPUs"`
	Pids           uint32  `json:"pids,omitempty" jsonschema:"maximum number of processes"`
	TimeoutMS      uint64  `json:"timeout_ms,omitempty" jsonschema:"wall-clock limit of each exec in milliseconds"`
	MaxOutputBytes int     `json:"max_output_bytes,omitempty" jsonschema:"bytes of output kept per stream"`
}

// sandboxView is a sandbox as GET and list show it.
type sandboxView struct {
	ID        string        `json:"id"`
	Backend   string        `json:"backend"`
	State     kavach.State  `json:"state"`
	Score     score.Score   `json:"score"`
	Enforced  any           `json:"enforced,omitempty"`
	Policy    policy.Policy `json:"policy"`
	Created   time.Time     `json:"created"`
	LastUsed  time.Time     `json:"last_used"`
	Execs     int           `json:"execs"`
	InFlight  int           `json:"in_flight"`
	Verdicts  []verdictView `json:"verdicts"`
	TimeoutMS int64         `json:"timeout_ms"`
}

func (s *Server) view(ctx context.Context, e *entry, full bool) sandboxView {
	created, _, _ := e.sb.Times()
	cfg := e.sb.Config()
	v := sandboxView{
		ID: e.id, Backend: e.sb.Backend().String(), State: e.sb.State(),
		Policy: cfg.Policy, Created: created.UTC(), TimeoutMS: cfg.Timeout.Milliseconds(),
	}
	if enf, err := e.sb.Enforced(ctx); err == nil {
		v.Score = enf.Score()
		if full {
			v.Enforced = enf
		}
	}
	e.mu.Lock()
	v.LastUsed, v.Execs, v.InFlight = e.lastUsed.UTC(), e.execs, e.inflight
	v.Verdicts = append([]verdictView{}, e.verdicts...)
	e.mu.Unlock()
	return v
}

// resolvePolicy turns a request's policy field into a policy.
func (s *Server) resolvePolicy(raw json.RawMessage) (policy.Policy, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return s.opts.DefaultPolicy.Clone(), nil
	}
	var p policy.Policy
	switch raw[0] {
	case '"':
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return p, fmt.Errorf("policy: %w: %w", policy.ErrInvalid, err)
		}
		// Only presets: a client must not make the server read host files.
		pp, err := policy.Preset(name)
		if err != nil {
			return p, err
		}
		p = pp
	case '{':
		pp, err := policy.Parse(raw, policy.JSON)
		if err != nil {
			return p, err
		}
		p = pp
	default:
		return p, fmt.Errorf("policy: %w: want a preset name or a policy object", policy.ErrInvalid)
	}
	if !s.opts.AllowHostMounts && (len(p.Mounts) > 0 || p.DataDir != "") {
		return p, fmt.Errorf("%w: mounts and data_dir bind host paths", ErrForbiddenPolicy)
	}
	// network.enabled without allowed_hosts is the host's network: its
	// loopback services (this server among them, when it listens on
	// loopback without a token) and everything it can route to. Egress
	// through an allowlist (allowed_hosts) goes through kavach's proxy in
	// a private namespace and stays allowed.
	if !s.opts.AllowHostNetwork && p.Network.Enabled && len(p.Network.AllowedHosts) == 0 {
		return p, fmt.Errorf("%w: network.enabled without allowed_hosts shares the host's network", ErrForbiddenPolicy)
	}
	return p, nil
}

// newSandbox creates, starts and registers a sandbox for owner, counted
// in client's quota and run with client as its agent id (owner and
// client differ for an MCP session, see mcpOwner).
func (s *Server) newSandbox(ctx context.Context, owner, client string, req createRequest) (_ *entry, err error) {
	if s.closing.Load() {
		return nil, ErrClosed
	}
	p, err := s.resolvePolicy(req.Policy)
	if err != nil {
		return nil, err
	}
	l := req.Limits
	if l.MemoryMB > 0 {
		p.MemoryLimitMB = l.MemoryMB
	}
	if l.CPUs < 0 {
		return nil, fmt.Errorf("limits.cpus %g: %w: negative", l.CPUs, policy.ErrInvalid)
	}
	if l.CPUs > 0 {
		p.CPULimit = l.CPUs
	}
	if l.Pids > 0 {
		p.MaxPids = l.Pids
	}
	if err := s.capLimits(&p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if l.MaxOutputBytes < 0 || int64(l.MaxOutputBytes) > s.opts.MaxFileBytes*4 {
		return nil, fmt.Errorf("%w: limits.max_output_bytes %d: want 0..%d", kavach.ErrInvalidConfig, l.MaxOutputBytes, s.opts.MaxFileBytes*4)
	}
	timeout := min(kavach.DefaultTimeout, s.opts.MaxTimeout)
	if l.TimeoutMS > 0 {
		timeout = time.Duration(l.TimeoutMS) * time.Millisecond
		if timeout > s.opts.MaxTimeout || l.TimeoutMS > uint64(s.opts.MaxTimeout.Milliseconds()) {
			return nil, fmt.Errorf("%w: limits.timeout_ms %d exceeds the server's maximum %d", kavach.ErrInvalidConfig, l.TimeoutMS, s.opts.MaxTimeout.Milliseconds())
		}
	}
	name := req.Backend
	if name == "" {
		name = s.opts.DefaultBackend
	}
	gate := *s.opts.Gate
	cfg := kavach.Config{
		Policy: p, Timeout: timeout, Env: req.Env, AgentID: client, MaxOutput: l.MaxOutputBytes,
		Scan: &gate, Quarantine: s.opts.Quarantine, Threat: s.opts.Threat, Audit: s.opts.Audit,
		Backends: s.opts.Backends, Logger: s.log,
	}
	if name == "auto" {
		cfg.AutoBackend = true
	} else if cfg.Backend, err = backend.ParseKind(name); err != nil {
		return nil, err
	}
	release, err := s.reg.reserve(client, s.opts.MaxSandboxesPerClient)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	cfg.Workdir, err = os.MkdirTemp(s.opts.WorkRoot, "kavach-serve-")
	if err != nil {
		return nil, fmt.Errorf("create workdir: %w", err)
	}
	var sb *kavach.Sandbox
	defer func() {
		if err != nil {
			if sb != nil {
				_ = sb.Destroy(context.WithoutCancel(ctx))
			}
			_ = os.RemoveAll(cfg.Workdir)
		}
	}()
	sb, err = kavach.Create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	uid, gid := -1, -1
	if sb.Backend() == backend.Process && os.Geteuid() == 0 {
		// As root, the process backend runs commands as an unprivileged
		// host uid; the workdir (and what is uploaded) must be theirs.
		uid, gid = process.HostIDBase+process.SandboxUID, process.HostIDBase+process.SandboxUID
		if err = os.Chown(cfg.Workdir, uid, gid); err != nil {
			return nil, fmt.Errorf("create workdir: %w", err)
		}
		// The sandbox's init (another unprivileged uid) must reach the
		// workdir to bind it; others may pass through but not list it.
		if err = os.Chmod(cfg.Workdir, 0o711); err != nil {
			return nil, fmt.Errorf("create workdir: %w", err)
		}
	}
	if err = sb.Start(ctx); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(cfg.Workdir)
	if err != nil {
		return nil, fmt.Errorf("open workdir: %w", err)
	}
	e := &entry{id: sb.ID(), owner: owner, client: client, sb: sb, workdir: cfg.Workdir, root: root, uid: uid, gid: gid, created: time.Now()}
	s.reg.add(e)
	if s.closing.Load() {
		// Shutdown may have listed the sandboxes before this one was added.
		_ = s.reg.destroy(context.WithoutCancel(ctx), e, "shutdown")
		return nil, ErrClosed
	}
	return e, nil
}

// lookup returns owner's live sandbox id.
func (s *Server) lookup(owner, id string) (*entry, error) {
	e, _ := s.reg.lookup(owner, id)
	if e == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e, nil
}

// execRequest is POST .../exec's body.
type execRequest struct {
	Args        []string `json:"args" jsonschema:"the command: argv, never a shell string"`
	Env         []string `json:"env,omitempty" jsonschema:"extra KEY=value environment entries"`
	Dir         string   `json:"dir,omitempty" jsonschema:"working directory inside the sandbox (default the workdir)"`
	Stdin       string   `json:"stdin,omitempty" jsonschema:"text fed to the command's standard input"`
	StdinBase64 []byte   `json:"stdin_base64,omitempty" jsonschema:"bytes fed to standard input, base64"`
	TimeoutMS   uint64   `json:"timeout_ms,omitempty" jsonschema:"shorter wall-clock limit for this exec"`
}

func (req execRequest) command() (kavach.Command, error) {
	c := kavach.Command{Args: req.Args, Env: req.Env, Dir: req.Dir}
	switch {
	case req.Stdin != "" && req.StdinBase64 != nil:
		return c, fmt.Errorf("%w: stdin and stdin_base64 are exclusive", kavach.ErrInvalidCommand)
	case req.Stdin != "":
		c.Input = []byte(req.Stdin)
	case req.StdinBase64 != nil:
		c.Input = req.StdinBase64
	}
	return c, nil
}

// execTimeout bounds ctx by the request's own timeout, if any.
func execTimeout(ctx context.Context, ms uint64) (context.Context, context.CancelFunc) {
	if ms == 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Duration(min(ms, uint64(24*time.Hour/time.Millisecond)))*time.Millisecond)
}

// runExec runs req in e, buffered, and records metrics and the verdict.
func (s *Server) runExec(ctx context.Context, e *entry, req execRequest) (*kavach.Result, error) {
	cmd, err := req.command()
	if err != nil {
		return nil, err
	}
	done, ok := e.begin()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, e.id)
	}
	defer done()
	ctx, cancel := s.execContext(ctx)
	defer cancel()
	ctx, cancelT := execTimeout(ctx, req.TimeoutMS)
	defer cancelT()
	s.metrics.inflight.Add(1)
	defer s.metrics.inflight.Add(-1)
	start := time.Now()
	res, err := e.sb.Exec(ctx, cmd)
	if res != nil {
		s.metrics.exec(e.sb.Backend().String(), time.Since(start), res.Verdict)
		e.recordVerdict(res)
	}
	return res, err
}

// scanOutcome is what POST /v1/scan returns.
type scanOutcome struct {
	Verdict  scan.Verdict   `json:"verdict"`
	Worst    scan.Severity  `json:"worst"`
	Findings []scan.Finding `json:"findings"`
}

// errorCode maps an error to an HTTP status and a stable code.
func errorCode(err error) (int, string) {
	var ee *backend.ExecError
	switch {
	case errors.Is(err, ErrNotFound):
		return 404, "not_found"
	case errors.Is(err, ErrQuota):
		return 429, "quota_exceeded"
	case errors.Is(err, ErrPath):
		return 400, "bad_path"
	case errors.Is(err, ErrTooLarge):
		return 413, "too_large"
	case errors.Is(err, ErrForbiddenPolicy):
		return 403, "forbidden_policy"
	case errors.Is(err, ErrClosed):
		return 503, "shutting_down"
	case errors.Is(err, policy.ErrInvalid), errors.Is(err, policy.ErrUnknownPreset):
		return 400, "invalid_policy"
	case errors.Is(err, backend.ErrUnknownKind), errors.Is(err, kavach.ErrInvalidConfig):
		return 400, "invalid_config"
	case errors.Is(err, kavach.ErrInvalidCommand):
		return 400, "invalid_command"
	case errors.Is(err, backend.ErrUnavailable):
		return 422, "backend_unavailable"
	case errors.Is(err, backend.ErrNotSupported):
		return 422, "policy_not_supported"
	case errors.Is(err, kavach.ErrNotRunning), errors.Is(err, kavach.ErrInvalidTransition), errors.Is(err, kavach.ErrDestroyed):
		return 409, "conflict"
	case errors.As(err, &ee):
		return 422, "exec_failed"
	case errors.Is(err, context.DeadlineExceeded):
		return 504, "timeout"
	case errors.Is(err, context.Canceled):
		return 503, "canceled"
	}
	if errors.Is(err, threat.ErrSuspended) || errors.Is(err, threat.ErrRevoked) {
		return 403, "agent_suspended"
	}
	return 500, "internal"
}

// capLimits holds a client's sandbox to the server's MaxMemoryMB and
// MaxPids: a policy that sets no such limit gets the server's, one that
// asks for more is refused (as a timeout over MaxTimeout is).
func (s *Server) capLimits(p *policy.Policy) error {
	if c := s.opts.MaxMemoryMB; c > 0 {
		if p.MemoryLimitMB > c {
			return fmt.Errorf("%w: memory limit %d MiB exceeds the server's maximum %d", kavach.ErrInvalidConfig, p.MemoryLimitMB, c)
		}
		if p.MemoryLimitMB == 0 {
			p.MemoryLimitMB = c
		}
	}
	if c := s.opts.MaxPids; c > 0 {
		if p.MaxPids > c {
			return fmt.Errorf("%w: max_pids %d exceeds the server's maximum %d", kavach.ErrInvalidConfig, p.MaxPids, c)
		}
		if p.MaxPids == 0 {
			p.MaxPids = c
		}
	}
	return nil
}
