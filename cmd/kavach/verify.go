package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/probe"
	"github.com/kavach-go/kavach/scan"
)

func init() { register(newVerifyCmd) }

type verifyFlags struct {
	backend string
	policy  string
	timeout time.Duration
	asJSON  bool
}

func newVerifyCmd() *cobra.Command {
	var f verifyFlags
	c := &cobra.Command{
		Use:   "verify [-b BACKEND] [-p POLICY] [--json]",
		Short: "Prove the strength score from inside a sandbox: claimed vs verified",
		Long: `Create a sandbox, run kavach's probe battery inside it, and compare what
the sandbox claims to enforce with what the probe finds.

The kavach binary is bind-mounted read-only into the sandbox and re-run in
a probe role, so no other binary is needed. The host prepares markers the
sandbox must not reach: a loopback TCP listener, an abstract unix socket,
an environment variable, a file in /tmp, its namespaces and its pid.

The claimed score is the score of the sandbox's Enforced; the verified
score leaves out every part whose checks failed. Exit 0 when the two agree
and every check the claim implies passed, 1 otherwise, 125 when kavach
itself failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVerify(cmd, &f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.backend, "backend", "b", "process", "backend: process|gvisor|oci|wasm|firecracker|sgx|sev|tdx|sy-agnos|noop|auto")
	fl.StringVarP(&f.policy, "policy", "p", "basic", "policy: minimal|basic|strict or a .json/.toml file")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "limit for the whole probe run")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	return c
}

// verifyBackends replaces kavach.Backends() for `kavach verify` when set;
// tests use it to run against a backend directly.
var verifyBackends []backend.Backend

// verifyView is `kavach verify --json`'s output.
type verifyView struct {
	Policy string `json:"policy"`
	probe.Report
	Enforced backend.Enforced `json:"enforced"`
	// HostTCPConnections counts connections the host's loopback listener
	// accepted during the run (0 when the network is isolated).
	HostTCPConnections int64 `json:"host_tcp_connections"`
	// output is the probe's raw output, kept for tests that evaluate it
	// against another claim.
	output probe.Output
}

func runVerify(cmd *cobra.Command, f *verifyFlags) error {
	p, err := policy.Resolve(f.policy)
	if err != nil {
		return err
	}
	var cfg kavach.Config
	if f.backend == "auto" {
		cfg.AutoBackend = true
	} else if cfg.Backend, err = backend.ParseKind(f.backend); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--timeout %v: must be positive", f.timeout)
	}
	cfg.Backends = verifyBackends
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	view, err := verify(ctx, cfg, p)
	if err != nil {
		return err
	}
	view.Policy = f.policy
	w := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(view); err != nil {
			return err
		}
	} else if err := printReport(w, view); err != nil {
		return err
	}
	if !view.OK {
		return exitCode(1, nil)
	}
	return nil
}

// verify runs the probe in a sandbox built from cfg and p, with the host
// markers in place, and evaluates its output against the sandbox's claim.
func verify(ctx context.Context, cfg kavach.Config, p policy.Policy) (*verifyView, error) {
	if !cfg.AutoBackend {
		if err := probe.Supported(cfg.Backend); err != nil {
			return nil, err
		}
	}
	exe, cleanup, err := probeBinary()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// The directory holding only the copy is mounted, not the file:
	// directory binds work with every backend.
	p = p.Clone()
	p.Mounts = append(p.Mounts, policy.Mount{Source: filepath.Dir(exe), Target: path.Dir(probeTarget), ReadOnly: true})
	m, err := newMarkers()
	if err != nil {
		return nil, err
	}
	defer m.close()

	// The probe's output is evidence, not user data: it must reach us
	// unredacted, so the output gate is off for this sandbox.
	gate := scan.DefaultGatePolicy()
	gate.Enabled = false
	cfg.Scan, cfg.Policy, cfg.Timeout = &gate, p, 90*time.Second
	sb, err := kavach.Create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sb.Destroy(context.WithoutCancel(ctx)) }()
	if err := sb.Start(ctx); err != nil {
		return nil, err
	}
	claim, err := sb.Enforced(ctx)
	if err != nil {
		return nil, err
	}
	if err := probe.Supported(claim.Backend); err != nil {
		return nil, err
	}
	h := m.hostInfo(claim)
	h.Self = []string{probeTarget, probeCmdName}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode host info: %w", err)
	}
	res, err := sb.Exec(ctx, kavach.Command{Args: []string{probeTarget, probeCmdName, "--host-info", string(hj)}})
	if err != nil {
		return nil, fmt.Errorf("run the probe in the sandbox: %w", err)
	}
	// The memory check's helper is meant to be killed by the memory limit,
	// and the backend then reports the whole command as "oom" even though
	// the probe itself exited: accept that when no signal killed the probe;
	// its output, printed only once every check ran, must still parse.
	finished := res.Termination == kavach.TerminationExited && res.ExitCode == 0 ||
		res.Termination == kavach.TerminationOOM && res.Signal == 0
	if !finished {
		return nil, fmt.Errorf("the probe %s (exit %d, signal %d): %s", res.Termination, res.ExitCode, res.Signal, oneLine(res.Stderr))
	}
	out, err := probe.ParseOutput(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("read the probe's output: %w (stderr: %s)", err, oneLine(res.Stderr))
	}
	rep, err := probe.Evaluate(claim, out)
	if err != nil {
		return nil, err
	}
	if err := sb.Destroy(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return &verifyView{Report: rep, Enforced: claim, HostTCPConnections: m.accepted.Load(), output: out}, nil
}

// probeBinary copies the running kavach binary into a fresh directory
// that every uid may read: the sandbox's init runs as a mapped uid that
// may not reach the binary where it lives (a 0700 home or build
// directory), and the copy cannot change while the probe runs.
func probeBinary() (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("find the kavach binary: %w", err)
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", nil, fmt.Errorf("open the kavach binary: %w", err)
	}
	defer src.Close()
	dir, err := os.MkdirTemp("", "kavach-verify-")
	if err != nil {
		return "", nil, fmt.Errorf("copy the kavach binary: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	dst := filepath.Join(dir, path.Base(probeTarget))
	err = os.Chmod(dir, 0o755)
	var out *os.File
	if err == nil {
		out, err = os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o555)
	}
	if err == nil {
		_, err = io.Copy(out, src)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("copy the kavach binary: %w", err)
	}
	return dst, cleanup, nil
}

func oneLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	if s == "" {
		return "no output"
	}
	return strings.ReplaceAll(s, "\n", "; ")
}

// markers are what the host prepares for the probe to look for.
type markers struct {
	tcp      net.Listener
	abstract net.Listener
	envName  string
	file     string
	ns       map[string]uint64
	accepted atomic.Int64
}

func newMarkers() (m *markers, err error) {
	m = &markers{}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tag := hex.EncodeToString(rnd[:])
	if m.ns, err = probe.HostNamespaces(); err != nil {
		return nil, fmt.Errorf("read the host's namespaces: %w", err)
	}
	if m.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("open the host's marker listener: %w", err)
	}
	go m.accept(m.tcp)
	if m.abstract, err = net.Listen("unix", "@kavach-probe-"+tag); err != nil {
		return nil, fmt.Errorf("open the host's marker abstract socket: %w", err)
	}
	go m.accept(m.abstract)
	m.envName = "KAVACH_PROBE_MARKER_" + strings.ToUpper(tag)
	if err = os.Setenv(m.envName, tag); err != nil {
		return nil, fmt.Errorf("set the host's marker variable: %w", err)
	}
	f, err := os.CreateTemp("", "kavach-probe-marker-*")
	if err != nil {
		return nil, fmt.Errorf("create the host's marker file: %w", err)
	}
	m.file = f.Name()
	_, err = io.WriteString(f, tag)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write the host's marker file: %w", err)
	}
	return m, nil
}

// accept counts and closes every connection that reaches a marker.
func (m *markers) accept(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m.accepted.Add(1)
		c.Close()
	}
}

func (m *markers) hostInfo(claim backend.Enforced) probe.HostInfo {
	h := probe.HostInfo{Enforced: claim, Namespaces: m.ns, PID: os.Getpid(), MarkerEnv: m.envName, MarkerFile: m.file, Kernel: probe.HostKernel()}
	if m.tcp != nil {
		h.TCPAddr = m.tcp.Addr().String()
	}
	if m.abstract != nil {
		h.AbstractSocket = strings.TrimPrefix(m.abstract.Addr().String(), "@")
	}
	return h
}

func (m *markers) close() {
	if m.tcp != nil {
		m.tcp.Close()
	}
	if m.abstract != nil {
		m.abstract.Close()
	}
	if m.envName != "" {
		os.Unsetenv(m.envName)
	}
	if m.file != "" {
		os.Remove(m.file)
	}
}

// lostLines says, for every score part with a failed check, which checks
// failed and, for the memory-or-CPU-limit part, whether its points were
// kept: one +2 stands for either limit, so a failed CPU check costs
// nothing while the memory limit held. Without that, "verified: 85"
// above "not verified: resource_limit" reads as a contradiction.
func lostLines(v *verifyView) []string {
	var lines []string
	for _, m := range v.Lost {
		var failed, held []string
		for _, c := range v.Checks {
			if !c.Expected || c.Modifier != m {
				continue
			}
			if c.Pass {
				held = append(held, c.ID)
			} else {
				failed = append(failed, c.ID)
			}
		}
		l := fmt.Sprintf("not verified: %s (%s failed)", m, strings.Join(failed, ", "))
		if m == probe.ResourceLimit && len(held) > 0 {
			l += fmt.Sprintf("; its points stay: %s passed", strings.Join(held, ", "))
		}
		lines = append(lines, l)
	}
	return lines
}

func printReport(w io.Writer, v *verifyView) error {
	fmt.Fprintf(w, "backend:  %s (policy %s)\n", v.Backend, v.Policy)
	fmt.Fprintf(w, "claimed:  %s\n", v.Claimed)
	for _, r := range v.Claimed.Reasons {
		fmt.Fprintf(w, "            %s\n", r)
	}
	fmt.Fprintf(w, "verified: %s\n", v.Verified)
	// Only the verified reasons that differ from the claimed ones are
	// printed: they are the parts the evidence changed.
	for _, r := range v.Verified.Reasons {
		if !slices.Contains(v.Claimed.Reasons, r) {
			fmt.Fprintf(w, "            %s\n", r)
		}
	}
	for _, l := range lostLines(v) {
		fmt.Fprintf(w, "            %s\n", l)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tEXPECTED\tBACKS\tDETAIL")
	for _, c := range v.Checks {
		res := "fail"
		if c.Pass {
			res = "pass"
		}
		exp := "-"
		if c.Expected {
			exp = "pass"
			if !c.Pass {
				res = "FAIL"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, res, exp, c.Modifier, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	switch {
	case v.OK:
		fmt.Fprintf(w, "ok: claimed %d == verified %d; every expected check passed\n", v.Claimed.Value, v.Verified.Value)
	default:
		fmt.Fprintf(w, "NOT VERIFIED: claimed %d, verified %d; %d expected check(s) failed: %s\n",
			v.Claimed.Value, v.Verified.Value, len(v.Failed), strings.Join(v.Failed, ", "))
	}
	return nil
}
