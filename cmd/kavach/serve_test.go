package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tight := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tight, []byte("ci 0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key, _ := writeTestCert(t, dir)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"public tcp without token", []string{"serve", "-b", "noop", "--listen", "tcp://0.0.0.0:0"}, "TCP needs --token-file"},
		{"loopback tcp without token", []string{"serve", "-b", "noop", "--listen", "tcp://127.0.0.1:0"}, "TCP needs --token-file"},
		{"public tcp, anonymous", []string{"serve", "-b", "noop", "--allow-anonymous", "--listen", "tcp://0.0.0.0:0"}, "needs --tls-cert and --tls-key"},
		{"public tcp with token, no TLS", []string{"serve", "-b", "noop", "--token-file", tight, "--listen", "tcp://0.0.0.0:0"}, "needs --tls-cert and --tls-key"},
		{"public tcp, anonymous with TLS", []string{"serve", "-b", "noop", "--allow-anonymous", "--tls-cert", cert, "--tls-key", key, "--listen", "tcp://0.0.0.0:0"}, "refusing to listen on a non-loopback address without a token"},
		{"tls cert alone", []string{"serve", "-b", "noop", "--token-file", tight, "--tls-cert", cert, "--listen", "tcp://127.0.0.1:0"}, "--tls-cert and --tls-key go together"},
		{"tls key not matching", []string{"serve", "-b", "noop", "--token-file", tight, "--tls-cert", cert, "--tls-key", loose, "--listen", "tcp://127.0.0.1:0"}, "--tls-cert/--tls-key"},
		{"tls on the unix socket", []string{"serve", "-b", "noop", "--tls-cert", cert, "--tls-key", key}, "TLS is for a TCP --listen"},
		{"mcp, anonymous", []string{"serve", "--mcp", "--allow-anonymous"}, "--mcp serves stdin/stdout"},
		{"mcp with listen", []string{"serve", "--mcp", "--listen", "tcp://127.0.0.1:0"}, "--mcp serves stdin/stdout"},
		{"readable token file", []string{"serve", "-b", "noop", "--token-file", loose}, "lets others read it"},
		{"bad backend", []string{"serve", "-b", "chroot"}, "unknown backend"},
		{"bad policy", []string{"serve", "-p", "paranoid"}, "unknown policy"},
		{"bad listen", []string{"serve", "-b", "noop", "--listen", "localhost:80"}, "bad listen address"},
		{"bad size", []string{"serve", "-b", "noop", "--max-file", "lots"}, "--max-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tc.args...)
			if code != exitKavachFailed || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want 125 and %q", code, stderr, tc.stderr)
			}
		})
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its
// key (mode 0600) into dir and returns their paths and the pool that
// trusts the certificate.
func writeTestCert(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	lc := kavachtest.NewLoopbackCert(t)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, lc.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, lc.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key, lc.Pool
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// kavachBinary builds cmd/kavach from the repository once per test run.
func kavachBinary(t *testing.T) string {
	t.Helper()
	gobin := kavachtest.RequireBinary(t, "go")
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kavach-bin")
		if err != nil {
			buildErr = err
			return
		}
		// The sandbox init re-executes the binary as another uid.
		_ = os.Chmod(dir, 0o755)
		builtBin = filepath.Join(dir, "kavach")
		out, err := exec.Command(gobin, "build", "-buildvcs=false", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// processServeBackend skips unless the built kavach can run process
// sandboxes here, and says why not.
func processServeBackend(t *testing.T, bin string) {
	t.Helper()
	kavachtest.RequireRoot(t)
	out, err := exec.Command(bin, "backends", "--json").Output()
	if err != nil {
		t.Fatalf("kavach backends: %v", err)
	}
	var rows []backendRow
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		switch {
		case r.Name != "process" || r.Available:
		case strings.HasSuffix(r.Reason, "not implemented"):
			// A property of this build, not of the host: kavach.Backends()
			// does not list the process backend yet.
			t.Skipf("kavach serve needs the process backend, which this build does not register: %s", r.Reason)
		default:
			kavachtest.Skip(t, "kavach serve needs the process backend: %s", r.Reason)
		}
	}
}

func unixHTTP(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 64,
	}}
}

// TestServeSIGTERM starts `kavach serve` as a subprocess, runs 20 execs
// that would take minutes, sends SIGTERM, and checks that the server
// exits cleanly within its shutdown deadline and leaves nothing behind:
// no socket, no workdir, no process, no cgroup, no state directory.
func TestServeSIGTERM(t *testing.T) {
	bin := kavachBinary(t)
	processServeBackend(t, bin)
	dir, err := os.MkdirTemp("", "ksrv")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o711)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o711); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "k.sock")
	keyFile, auditLog := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.jsonl")
	if err := os.WriteFile(keyFile, []byte("serve-test-audit-key-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	srv := exec.Command(bin, "serve", "--listen", "unix://"+sock, "--work-root", work, "-b", "process",
		"--shutdown-timeout", "1s", "--log-format", "text", "--audit-log", auditLog, "--audit-key-file", keyFile, "--quarantine-dir", filepath.Join(dir, "q"))
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
		}
	}()
	c := unixHTTP(sock)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := c.Get("http://kavach/v1/sandboxes"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ids []string
	for range 2 {
		resp, err := c.Post("http://kavach/v1/sandboxes", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		ids = append(ids, v.ID)
	}
	const n = 20
	const marker = "123.4567" // sleep's argument, to find leftovers in /proc
	var (
		wg       sync.WaitGroup
		signaled atomic.Bool
	)
	for i := range n {
		wg.Go(func() {
			// An exec that ends before SIGTERM failed to start (the test is
			// about shutdown, so it is started again, a few times).
			for range 3 {
				body := `{"args":["sleep","` + marker + `"]}`
				resp, err := c.Post("http://kavach/v1/sandboxes/"+ids[i%2]+"/exec", "application/json", strings.NewReader(body))
				var data []byte
				if err == nil {
					data, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if signaled.Load() {
					return
				}
				t.Logf("exec ended before SIGTERM: %v %s", err, data)
			}
		})
	}
	for {
		if inFlight(c) == n {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("execs in flight: %d, want %d", inFlight(c), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	signaled.Store(true)
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("kavach serve exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("kavach serve still running 20s after SIGTERM:\n%s", stderr.String())
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	wg.Wait()
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", stderr.String())
	}
	if _, err := os.Lstat(sock); err == nil {
		t.Error("socket left behind")
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("workdirs left behind: %v", ents)
	}
	// The audit chain was flushed and closed: it verifies, and records
	// both sandboxes' destruction.
	if out, err := exec.Command(bin, "audit", "verify", auditLog, "--key-file", keyFile).CombinedOutput(); err != nil {
		t.Errorf("audit verify after SIGTERM: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(auditLog); bytes.Count(data, []byte(`"sandbox.destroy"`)) != len(ids) {
		t.Errorf("audit log has %d destroy events, want %d", bytes.Count(data, []byte(`"sandbox.destroy"`)), len(ids))
	}
	if ps := procsWith(marker); len(ps) > 0 {
		t.Errorf("processes left behind: %v", ps)
	}
	for _, id := range ids {
		for _, root := range []string{"/sys/fs/cgroup", os.TempDir()} {
			if left := findNamed(root, id, 5); len(left) > 0 {
				t.Errorf("sandbox %s left behind: %v", id, left)
			}
		}
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(id)) {
			t.Errorf("mount of sandbox %s left behind", id)
		}
	}
}

// inFlight reads kavach_execs_in_flight from /metrics.
func inFlight(c *http.Client) int {
	resp, err := c.Get("http://kavach/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var n int
	for _, l := range strings.Split(string(data), "\n") {
		if _, err := fmt.Sscanf(l, "kavach_execs_in_flight %d", &n); err == nil {
			return n
		}
	}
	return -1
}

// procsWith returns the pids whose command line contains s.
func procsWith(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cl, []byte(s)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cl), "\x00", " "))
		}
	}
	return out
}

// findNamed returns the paths under root, at most depth levels down,
// whose name contains s.
func findNamed(root, s string, depth int) []string {
	var out []string
	base := strings.Count(root, string(filepath.Separator))
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.Contains(d.Name(), s) {
			out = append(out, p)
		}
		if d.IsDir() && strings.Count(p, string(filepath.Separator))-base >= depth {
			return filepath.SkipDir
		}
		return nil
	})
	return out
}

// inspectorVersion is the MCP Inspector the test runs.
const inspectorVersion = "2.12.0"

// mcpInspector returns the MCP Inspector's CLI: $KAVACH_MCP_INSPECTOR,
// or the one in $HOME/.cache/kavach-npm, which it installs there with
// npm when it is missing.
func mcpInspector(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KAVACH_MCP_INSPECTOR"); p != "" {
		kavachtest.RequireFile(t, p)
		return p
	}
	kavachtest.RequireBinary(t, "node")
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(home, ".cache", "kavach-npm")
	insp := filepath.Join(prefix, "node_modules", ".bin", "mcp-inspector")
	if _, err := os.Stat(insp); err == nil {
		return insp
	}
	npm := kavachtest.RequireBinary(t, "npm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", prefix,
		"@modelcontextprotocol/inspector@"+inspectorVersion).CombinedOutput()
	if err != nil {
		kavachtest.Skip(t, "cannot install the MCP Inspector with npm: %v\n%s", err, out)
	}
	kavachtest.RequireFile(t, insp)
	return insp
}

// TestServeMCPInspector is an MCP round trip with a client that is not
// ours: the MCP Inspector's CLI (npm @modelcontextprotocol/inspector)
// lists the tools of `kavach serve --mcp` and calls run.
func TestServeMCPInspector(t *testing.T) {
	bin := kavachBinary(t)
	insp := mcpInspector(t)
	backend, real := "noop", false
	if os.Geteuid() == 0 {
		out, _ := exec.Command(bin, "backends", "--json").Output()
		var rows []backendRow
		_ = json.Unmarshal(out, &rows)
		for _, r := range rows {
			if r.Name == "process" && r.Available {
				backend, real = "process", true
			}
		}
	}
	work, err := os.MkdirTemp("", "kinsp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	// Sandboxes run as unprivileged uids that must reach their workdirs.
	_ = os.Chmod(work, 0o711)
	inspect := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		full := append([]string{"--cli", bin, "serve", "--mcp", "-b", backend, "--work-root", work,
			"--quarantine-dir", filepath.Join(work, "q"), "--log-level", "error"}, args...)
		cmd := exec.CommandContext(ctx, insp, full...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("inspector %v: %v\nstdout: %s\nstderr: %s", args, err, out, stderr.String())
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("inspector %v: output is not JSON: %v\n%s", args, err, out)
		}
		return v
	}
	tools := inspect("--method", "tools/list")
	var names []string
	for _, tl := range tools["tools"].([]any) {
		names = append(names, tl.(map[string]any)["name"].(string))
	}
	for _, want := range []string{"sandbox_create", "sandbox_exec", "sandbox_write_file", "sandbox_read_file", "sandbox_destroy", "run"} {
		if !strings.Contains(strings.Join(names, ","), want) {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
	res := inspect("--method", "tools/call", "--tool-name", "run", "--tool-arg", `command=["sh","-c","echo via inspector; exit 5"]`)
	sc, ok := res["structuredContent"].(map[string]any)
	if !ok || res["isError"] == true {
		t.Fatalf("run: %v", res)
	}
	for _, k := range []string{"exit_code", "stdout", "verdict", "score", "sandbox_id"} {
		if _, ok := sc[k]; !ok {
			t.Errorf("run result lacks %s: %v", k, sc)
		}
	}
	if real && (sc["exit_code"] != float64(5) || sc["stdout"] != "via inspector\n" || sc["verdict"] != "Pass") {
		t.Errorf("run on the process backend: %v", sc)
	}
	ents, _ := os.ReadDir(work)
	for _, e := range ents {
		if e.Name() != "q" {
			t.Errorf("workdir left behind: %s", e.Name())
		}
	}
}

// TestServeTLSListen runs kavach serve on loopback TCP with tokens and a
// certificate: a client that trusts it creates a sandbox over HTTPS.
func TestServeTLSListen(t *testing.T) {
	bin := kavachBinary(t)
	dir := t.TempDir()
	cert, key, pool := writeTestCert(t, dir)
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("ci tls-cli-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stderr bytes.Buffer
	srv := exec.Command(bin, "serve", "-b", "noop", "--listen", "tcp://"+addr, "--token-file", tokens,
		"--tls-cert", cert, "--tls-key", key, "--work-root", dir, "--quarantine-dir", filepath.Join(dir, "q"))
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("POST", "https://"+addr+"/v1/sandboxes", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer tls-cli-token-0123456789")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || resp.TLS == nil {
				t.Fatalf("create over TLS: %d", resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up over TLS: %v; stderr %s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
