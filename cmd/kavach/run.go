package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/quarantine"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/threat"
)

func init() { register(newRunCmd) }

type runFlags struct {
	backend      string
	inner        string
	policy       string
	timeout      time.Duration
	memory       string
	pids         uint32
	cpus         float64
	network      bool
	allowHosts   []string
	mounts       []string
	workdir      string
	env          []string
	interactive  bool
	asJSON       bool
	maxOutput    string
	noScan       bool
	auditLog     string
	auditKey     string
	agentID      string
	threatState  string
	secretEnv    []string
	secretFile   []string
	secretStdin  []string
	quarantine   string
	secretHeader []string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run [flags] -- CMD [ARG...]",
		Short: "Run one command in a fresh sandbox and exit with its code",
		Long: `Run one command in a fresh sandbox, print its output, and exit with its code.

Exit codes: the command's own; 124 timeout; 125 kavach failed; 126 not
executable; 127 not found; 128+N killed by signal N.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, &f, args) },
	}
	c.Flags().SetInterspersed(false)
	fl := c.Flags()
	fl.StringVarP(&f.backend, "backend", "b", "process", "backend: process|gvisor|oci|wasm|firecracker|sgx|sev|tdx|sy-agnos|noop|auto")
	fl.StringVar(&f.inner, "inner", "", "layer a second backend inside --backend (e.g. -b oci --inner process)")
	fl.StringVarP(&f.policy, "policy", "p", "basic", "policy: minimal|basic|strict or a .json/.toml file")
	fl.DurationVar(&f.timeout, "timeout", kavach.DefaultTimeout, "wall-clock limit; exit 124 when hit")
	fl.StringVar(&f.memory, "memory", "", "memory limit, e.g. 512M or 2G")
	fl.Uint32Var(&f.pids, "pids", 0, "maximum number of processes")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPU limit in CPUs, e.g. 0.5")
	fl.BoolVar(&f.network, "network", false, "allow the host's network (default: loopback only)")
	fl.StringArrayVar(&f.allowHosts, "allow-host", nil, "allow egress to HOST[:PORT] through kavach's proxy (repeatable)")
	fl.StringArrayVar(&f.mounts, "mount", nil, "bind mount SRC:DST[:ro|rw] (repeatable; default ro)")
	fl.StringVar(&f.workdir, "workdir", "", "host directory mounted read-write as the working directory")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set KEY=VALUE in the command's environment (repeatable)")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "pass kavach's stdin to the command (default /dev/null)")
	fl.BoolVar(&f.asJSON, "json", false, "print the full result as JSON instead of the command's output")
	fl.StringVar(&f.maxOutput, "max-output", "1M", "bytes of output kept per stream; the rest is dropped")
	fl.BoolVar(&f.noScan, "no-scan", false, "do not pass the output through the gate (secrets, code, personal data)")
	fl.StringVar(&f.auditLog, "audit-log", "", "append every event to this HMAC-chained audit log (needs --audit-key-file)")
	fl.StringVar(&f.auditKey, "audit-key-file", "", "file holding the audit log's HMAC key")
	fl.StringVar(&f.agentID, "agent-id", "", "agent on whose behalf the command runs (threat tracking, audit)")
	fl.StringArrayVar(&f.secretEnv, "secret-env", nil, "inject a secret as env var: VAR=env:NAME or VAR=file:PATH (repeatable)")
	fl.StringArrayVar(&f.secretFile, "secret-file", nil, "inject a secret as a 0400 file on a tmpfs: /PATH=env:NAME or /PATH=file:PATH")
	fl.StringArrayVar(&f.secretHeader, "secret-header", nil, "inject a header through the proxy: HOST[:PORT]:Header-Name=SOURCE, e.g. api.example.com:Authorization=Bearer env:TOKEN (without a port: HTTPS only)")
	fl.StringArrayVar(&f.secretStdin, "secret-stdin", nil, "feed a secret to the command's stdin: env:NAME or file:PATH")
	fl.StringVar(&f.quarantine, "quarantine-dir", "", "where quarantined output is stored (default $XDG_DATA_HOME/kavach/quarantine)")
	fl.StringVar(&f.threatState, "threat-state", "", "offender tracker state file; with --agent-id, a suspended agent cannot run")
	return c
}

// buildConfig turns flags into a Config, validating everything before
// any sandbox exists.
func buildConfig(f *runFlags) (kavach.Config, error) {
	var cfg kavach.Config
	p, err := policy.Resolve(f.policy)
	if err != nil {
		return cfg, err
	}
	if f.backend == "auto" {
		cfg.AutoBackend = true
	} else if cfg.Backend, err = backend.ParseKind(f.backend); err != nil {
		return cfg, err
	}
	if f.inner != "" {
		k, err := backend.ParseKind(f.inner)
		if err != nil {
			return cfg, fmt.Errorf("--inner: %w", err)
		}
		cfg.InnerBackend = &k
	}
	if f.memory != "" {
		n, err := parseSize(f.memory)
		if err != nil {
			return cfg, fmt.Errorf("--memory: %w", err)
		}
		if n < 1<<20 {
			return cfg, fmt.Errorf("--memory %s: less than 1 MiB", f.memory)
		}
		p.MemoryLimitMB = uint64(n >> 20)
	}
	if f.pids > 0 {
		p.MaxPids = f.pids
	}
	if f.cpus < 0 {
		return cfg, fmt.Errorf("--cpus %g: negative", f.cpus)
	}
	if f.cpus > 0 {
		p.CPULimit = f.cpus
	}
	if f.network {
		p.Network.Enabled = true
	}
	if len(f.allowHosts) > 0 {
		if f.network {
			return cfg, errors.New("--network gives the host's network; --allow-host limits egress to the proxy: choose one")
		}
		// Egress only through kavach's proxy, which allows these hosts.
		p.Network.Enabled = true
		p.Network.AllowedHosts = append(p.Network.AllowedHosts, f.allowHosts...)
	}
	for _, h := range f.secretHeader {
		r, err := credential.ParseHeaderRule(h)
		if err != nil {
			return cfg, err
		}
		cfg.HeaderRules = append(cfg.HeaderRules, r)
	}
	for _, m := range f.mounts {
		mt, err := parseMount(m)
		if err != nil {
			return cfg, err
		}
		p.Mounts = append(p.Mounts, mt)
	}
	if f.workdir != "" {
		abs, err := filepath.Abs(f.workdir)
		if err != nil {
			return cfg, fmt.Errorf("--workdir: %w", err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return cfg, fmt.Errorf("--workdir: %w", err)
		}
		if !st.IsDir() {
			return cfg, fmt.Errorf("--workdir %s: not a directory", abs)
		}
		cfg.Workdir = abs
	}
	if f.timeout <= 0 {
		return cfg, fmt.Errorf("--timeout %v: must be positive", f.timeout)
	}
	mo, err := parseSize(f.maxOutput)
	if err != nil || mo <= 0 || mo > 1<<34 {
		return cfg, fmt.Errorf("--max-output %q: want a size between 1 and 16G", f.maxOutput)
	}
	if err := p.Validate(); err != nil {
		return cfg, err
	}
	cfg.Policy, cfg.Timeout, cfg.Env, cfg.MaxOutput = p, f.timeout, f.env, int(mo)
	for _, spec := range []struct {
		vals  []string
		parse func(string) (credential.Injection, error)
	}{{f.secretEnv, credential.ParseEnvInjection}, {f.secretFile, credential.ParseFileInjection}, {f.secretStdin, credential.ParseStdinInjection}} {
		for _, v := range spec.vals {
			in, err := spec.parse(v)
			if err != nil {
				return cfg, err
			}
			cfg.Secrets = append(cfg.Secrets, in)
		}
	}
	gp := scan.DefaultGatePolicy()
	gp.Enabled = !f.noScan
	cfg.Scan = &gp
	return cfg, nil
}

func runRun(cmd *cobra.Command, f *runFlags, args []string) error {
	oneProc()
	cfg, err := buildConfig(f)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	closeAll, err := openSinks(ctx, cmd.ErrOrStderr(), f, &cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	sb, err := kavach.Create(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = sb.Destroy(context.WithoutCancel(ctx)) }()
	if err := sb.Start(ctx); err != nil {
		return err
	}
	c := kavach.Command{Args: args}
	if f.interactive {
		c.Stdin = cmd.InOrStdin()
	}
	var res *kavach.Result
	if f.asJSON {
		res, err = sb.Exec(ctx, c)
	} else {
		res, err = stream(ctx, sb, c, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	if err != nil && (res == nil || !errors.Is(err, scan.ErrNoStore)) {
		return commandError(err)
	}
	if res.Verdict >= scan.Quarantine && !f.asJSON {
		fmt.Fprintf(cmd.ErrOrStderr(), "kavach: output withheld from the first offending line on: verdict %s, %d finding(s)%s\n",
			res.Verdict, len(res.Findings), quarantineNote(res, err))
	}
	if derr := sb.Destroy(context.WithoutCancel(ctx)); derr != nil {
		return derr
	}
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonResult(res)); err != nil {
			return err
		}
	}
	if res.Truncated && !f.asJSON {
		fmt.Fprintf(cmd.ErrOrStderr(), "kavach: output truncated to %d bytes per stream (--max-output)\n", cfg.MaxOutput)
	}
	if code := resultCode(res); code != 0 {
		return exitCode(code, nil)
	}
	return nil
}

// openSinks opens the audit log and the threat tracker the flags name.
func openSinks(ctx context.Context, stderr io.Writer, f *runFlags, cfg *kavach.Config) (func(), error) {
	closers := []func(){}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if (f.auditLog == "") != (f.auditKey == "") {
		return closeAll, errors.New("--audit-log and --audit-key-file go together")
	}
	if f.auditLog != "" {
		key, err := audit.LoadKey(f.auditKey)
		if err != nil {
			return closeAll, err
		}
		warnLooseKey(stderr, f.auditKey)
		w, err := audit.Open(ctx, f.auditLog, key)
		if err != nil {
			return closeAll, err
		}
		closers = append(closers, func() { _ = w.Close() })
		cfg.Audit = w
	}
	if cfg.Scan.Enabled {
		dir := f.quarantine
		if dir == "" {
			d, err := quarantine.DefaultDir()
			if err != nil {
				return closeAll, err
			}
			dir = d
		}
		st, err := quarantine.New(dir)
		if err != nil {
			return closeAll, err
		}
		cfg.Quarantine = st
	}
	if f.threatState != "" && f.agentID == "" {
		return closeAll, errors.New("--threat-state needs --agent-id")
	}
	cfg.AgentID = f.agentID
	if f.threatState != "" {
		tr, err := threat.NewOffenderTracker(ctx, threat.TrackerConfig{Path: f.threatState})
		if err != nil {
			closeAll()
			return func() {}, err
		}
		cfg.Threat = tr
	}
	return closeAll, nil
}

// stream runs c with its output copied live to stdout and stderr, and
// forwards SIGINT, SIGTERM and SIGHUP to it.
func stream(ctx context.Context, sb *kavach.Sandbox, c kavach.Command, stdout, stderr io.Writer) (*kavach.Result, error) {
	p, err := sb.Spawn(ctx, c)
	if err != nil {
		return nil, err
	}
	// The scanners (scan.All(), about 1.5 ms of CPU and 1 MB of heap to
	// build) are not built here: the line gate builds them when the first
	// byte of output reaches it, so a command that prints nothing never
	// pays for them, and one that prints is scanned exactly as before. The
	// command line is scanned only for the audit log, which builds them
	// itself.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = p.Signal(s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(stdout, p.Stdout()) })
	wg.Go(func() { _, _ = io.Copy(stderr, p.Stderr()) })
	res, err := p.Wait()
	wg.Wait()
	return res, err
}

func quarantineNote(res *kavach.Result, err error) string {
	switch {
	case res.QuarantineID != "":
		return ", quarantined as " + res.QuarantineID
	case err != nil:
		return " (" + err.Error() + ")"
	}
	return ""
}

// resultCode maps a Result to kavach run's exit code.
func resultCode(r *kavach.Result) int {
	switch r.Termination {
	case kavach.TerminationExited:
		return r.ExitCode
	case kavach.TerminationTimeout:
		return exitTimeout
	}
	if r.Signal > 0 {
		return 128 + int(r.Signal)
	}
	return 128 + int(syscall.SIGKILL)
}

// commandError maps a failure to start the command to 127 (not found) or
// 126 (not executable); other errors are kavach's own (125).
func commandError(err error) error {
	var ee *backend.ExecError
	if errors.As(err, &ee) {
		switch {
		case errors.Is(ee.Err, os.ErrNotExist):
			return exitCode(exitNotFound, err)
		case errors.Is(ee.Err, os.ErrPermission):
			return exitCode(exitNotExecutable, err)
		}
	}
	return err
}

// parseMount parses SRC:DST[:ro|rw]; paths are made absolute, SRC must
// exist, and the default is read-only.
func parseMount(s string) (policy.Mount, error) {
	parts := strings.Split(s, ":")
	m := policy.Mount{ReadOnly: true}
	switch len(parts) {
	case 3:
		switch parts[2] {
		case "ro":
		case "rw":
			m.ReadOnly = false
		default:
			return m, fmt.Errorf("--mount %q: mode %q: want ro or rw", s, parts[2])
		}
	case 2:
	default:
		return m, fmt.Errorf("--mount %q: want SRC:DST[:ro|rw]", s)
	}
	if parts[0] == "" || parts[1] == "" {
		return m, fmt.Errorf("--mount %q: empty path", s)
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return m, fmt.Errorf("--mount %q: %w", s, err)
	}
	if _, err := os.Stat(src); err != nil {
		return m, fmt.Errorf("--mount %q: %w", s, err)
	}
	if !filepath.IsAbs(parts[1]) {
		return m, fmt.Errorf("--mount %q: destination %q must be absolute", s, parts[1])
	}
	m.Source, m.Target = src, filepath.Clean(parts[1])
	return m, nil
}

// parseSize parses a byte count with an optional binary suffix: 512, 64K,
// 512M, 2G, 1T (also KiB, MB and the like; all are powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("size %q: want a number with an optional K, M, G or T suffix", s)
	}
	return int64(v * float64(mult)), nil
}

// jsonView is `kavach run --json`'s output: the Result, with stdout and
// stderr as strings when they are UTF-8 and base64 otherwise, so that no
// byte is lost.
type jsonView struct {
	*kavach.Result
	Stdout       *string `json:"stdout,omitempty"`
	Stderr       *string `json:"stderr,omitempty"`
	StdoutBase64 []byte  `json:"stdout_base64,omitempty"`
	StderrBase64 []byte  `json:"stderr_base64,omitempty"`
	ExitStatus   int     `json:"kavach_exit_code"`
}

func jsonResult(r *kavach.Result) jsonView {
	v := jsonView{Result: r, ExitStatus: resultCode(r)}
	if utf8.Valid(r.Stdout) {
		s := string(r.Stdout)
		v.Stdout = &s
	} else {
		v.StdoutBase64 = r.Stdout
	}
	if utf8.Valid(r.Stderr) {
		s := string(r.Stderr)
		v.Stderr = &s
	} else {
		v.StderrBase64 = r.Stderr
	}
	return v
}

// oneProc runs `kavach run` on one P unless GOMAXPROCS says otherwise.
// The process supervises one sandbox: it waits, copies and scans one
// stream at a time, so a second P buys nothing. It costs something: with
// two Ps on a two-CPU machine, whoever reaps kavach after it exits (the
// shell) spent 7–11 ms in the kernel in a quarter to a third of the runs
// (perf: release_task → proc_invalidate_siblings_dcache → d_walk), with
// one P 20–60 µs (RATIONALE.md).
func oneProc() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
	}
}
