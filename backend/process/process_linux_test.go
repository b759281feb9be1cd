package process_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/policy"
)

// probeBin is a copy of the test binary that sandboxes can see: the go
// tool's build directory is closed to the sandbox's unprivileged host uid.
var probeBin string

func TestMain(m *testing.M) {
	reexec.Init()
	if os.Getenv(envProbe) != "" {
		runProbe()
	}
	if os.Getenv(envRootless) != "" {
		runRootless()
	}
	code := func() int {
		dir, err := os.MkdirTemp("", "kavach-probe-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := copyProbe(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func copyProbe(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return err
	}
	defer self.Close()
	probeBin = filepath.Join(dir, "probe")
	out, err := os.OpenFile(probeBin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, self); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func requireBackendB(b *testing.B) *process.Backend {
	be := process.New()
	if err := be.Available(b.Context()); err != nil {
		kavachtest.Skip(b, "process backend: %v", err)
	}
	return be
}

func requireBackend(t *testing.T, opts ...process.Option) *process.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	b := process.New(opts...)
	if err := b.Available(t.Context()); err != nil {
		kavachtest.Skip(t, "process backend: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	b := requireBackend(t)
	presets := []string{"basic", "strict"}
	if raceEnabled {
		presets = presets[1:] // a second a start under -race
	}
	for _, name := range presets {
		t.Run(name, func(t *testing.T) {
			p, _ := policy.Preset(name)
			backendtest.Run(t, b, backendtest.Options{RunsCommands: true, Policy: &p})
		})
	}
}

// syncBuffer is safe for the goroutines that write a command's output.
type syncBuffer = kavachtest.SyncBuffer

func create(t *testing.T, b *process.Backend, p policy.Policy) backend.Sandbox {
	t.Helper()
	sb, err := b.Create(t.Context(), backend.Spec{ID: t.Name(), Policy: p})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return sb
}

type result struct {
	st     backend.ExitStatus
	stdout string
	stderr string
}

func run(t *testing.T, sb backend.Sandbox, env []string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	p, err := sb.Start(t.Context(), &backend.Command{Args: args, Env: env, Stdout: &out, Stderr: &errb})
	if err != nil {
		// What the init said on the way down, if it got that far.
		time.Sleep(50 * time.Millisecond)
		t.Fatalf("start %q: %v; stderr %q", args, err, errb.String())
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return result{st, out.String(), errb.String()}
}

// TestEscape runs the probe inside sandboxes of each preset and network
// mode and checks that every escape attempt was denied.
func TestEscape(t *testing.T) {
	b := requireBackend(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	allowed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Close()
	abstract := fmt.Sprintf("kavach-escape-test-%d", os.Getpid())
	uln, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	for _, l := range []net.Listener{ln, allowed, uln} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	t.Setenv("KAVACH_HOST_SECRET", "must-not-leak")
	tcpPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	allowedPort := allowed.Addr().(*net.TCPAddr).Port

	mount := []policy.Mount{{Source: probeBin, Target: "/opt/kavach/probe", ReadOnly: true}}
	netOn := policy.Strict()
	netOn.Network = policy.Network{Enabled: true, AllowedPorts: []uint16{uint16(allowedPort)}}
	cases := []struct {
		name string
		p    policy.Policy
		env  []string
	}{
		{"minimal", policy.Minimal(), []string{"PROBE_TCP=" + tcpPort, "PROBE_ABSTRACT=" + abstract}},
		{"basic", policy.Basic(), []string{"PROBE_TCP=" + tcpPort, "PROBE_ABSTRACT=" + abstract}},
		{"strict", policy.Strict(), []string{"PROBE_TCP=" + tcpPort, "PROBE_ABSTRACT=" + abstract}},
		// The host's network: Landlock allows only the listed TCP port
		// and scopes abstract unix sockets to the sandbox.
		{"strict-host-network", netOn, []string{"PROBE_TCP=" + tcpPort, "PROBE_TCP_ALLOWED=" + strconv.Itoa(allowedPort), "PROBE_ABSTRACT=" + abstract}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Mounts = mount
			sb := create(t, b, p)
			env := append([]string{envProbe + "=1", "PATH=/usr/bin:/bin"}, tc.env...)
			r := run(t, sb, env, "/opt/kavach/probe")
			if r.st.Code != 0 || !strings.Contains(r.stdout, "probe=done") {
				t.Fatalf("probe: %+v\nstdout:\n%s\nstderr:\n%s", r.st, r.stdout, r.stderr)
			}
			t.Logf("probe output:\n%s", r.stdout)
			got := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(r.stdout))
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), "="); ok {
					got[k] = v
				}
			}
			mustDeny := []string{
				"mount", "umount", "unshare-user", "unshare-net", "ptrace-init", "chroot", "setuid-0",
				"bpf", "perf_event_open", "sethostname", "kill-init",
				"read-shadow", "read-init-environ", "write-/usr/kavach-escape", "write-/etc/kavach-escape",
				"write-/kavach-escape", "write-/proc/sys/kernel/hostname", "see-sys",
				"connect-host-tcp", "connect-host-abstract",
			}
			if tc.p.SeccompEnabled {
				// Without seccomp (minimal) keyrings and io_uring are the
				// kernel's to allow: nothing else in the sandbox stops them.
				mustDeny = append(mustDeny, "keyctl", "add_key", "io_uring")
			}
			for _, k := range mustDeny {
				if v, ok := got[k]; !ok || !strings.HasPrefix(v, "denied") {
					t.Errorf("%s = %q, want denied", k, v)
				}
			}
			mustWork := []string{"write-tmp", "write-work"}
			if _, ok := got["connect-allowed-tcp"]; ok || tc.p.Network.Enabled {
				mustWork = append(mustWork, "connect-allowed-tcp")
			}
			for _, k := range mustWork {
				if got[k] != "works" {
					t.Errorf("%s = %q, want works", k, got[k])
				}
			}
			want := map[string]string{
				"status-CapEff": "0000000000000000", "status-CapPrm": "0000000000000000",
				"status-CapBnd": "0000000000000000", "status-CapAmb": "0000000000000000",
				"status-CapInh": "0000000000000000", "status-NoNewPrivs": "1",
				"pids": "1," + got["self"],
			}
			if tc.p.SeccompEnabled {
				want["status-Seccomp"] = "2"
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if uid := strings.Fields(got["status-Uid"]); len(uid) == 0 || uid[0] != strconv.Itoa(process.SandboxUID) {
				t.Errorf("uid %q, want %d", got["status-Uid"], process.SandboxUID)
			}
			if strings.Contains(r.stdout, "must-not-leak") || !strings.HasPrefix(got["env"], envProbe+"=1,PATH=") {
				t.Errorf("environment inside: %q", got["env"])
			}
			if _, err := os.Stat("/usr/kavach-escape"); err == nil {
				t.Error("the sandbox wrote the host's /usr")
			}
		})
	}
}

// TestProbeRefusesOutsideSandbox shows that the probe does nothing on
// the host.
func TestProbeRefusesOutsideSandbox(t *testing.T) {
	kavachtest.RequireLinux(t)
	cmd := reexec.Command("none")
	cmd.Path = probeBin
	cmd.Args = []string{probeBin}
	cmd.Env = []string{envProbe + "=1"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.HasPrefix(string(out), "refused:") {
		t.Fatalf("probe on the host: %v %q", err, out)
	}
}

func TestPlanMatchesCreate(t *testing.T) {
	b := requireBackend(t)
	for _, name := range policy.PresetNames() {
		t.Run(name, func(t *testing.T) {
			p, _ := policy.Preset(name)
			plan, err := b.Plan(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			sb := create(t, b, p)
			e := sb.Enforced()
			if fmt.Sprint(plan) != fmt.Sprint(e) {
				t.Errorf("plan %+v\ncreate %+v", plan, e)
			}
			if e.Seccomp != p.Profile() || (p.SeccompEnabled && e.SeccompRules == 0) {
				t.Errorf("seccomp %q (%d rules), policy asks %q", e.Seccomp, e.SeccompRules, p.Profile())
			}
			if e.LandlockABI == 0 || e.LandlockRules == 0 || e.Network != backend.NetworkNone || !e.NoNewPrivs || len(e.Capabilities) != 0 {
				t.Errorf("enforced %+v", e)
			}
			if p.MemoryLimitMB > 0 && (e.CgroupVersion == 0 || e.MemoryLimitMB != p.MemoryLimitMB || e.MaxPids != p.MaxPids) {
				t.Errorf("limits not enforced: %+v", e)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Basic())
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"not found", []string{"kavach-no-such-program"}, os.ErrNotExist},
		{"not found by path", []string{"/usr/bin/kavach-no-such-program"}, os.ErrNotExist},
		{"not executable", []string{"/etc/passwd"}, os.ErrPermission},
		{"directory", []string{"/usr"}, os.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sb.Start(t.Context(), &backend.Command{Args: tt.args, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: io.Discard, Stderr: io.Discard})
			var ee *backend.ExecError
			if !errorsAs(err, &ee) || !errorsIs(err, tt.want) {
				t.Errorf("start %q: %v, want an ExecError matching %v", tt.args, err, tt.want)
			}
		})
	}
}
