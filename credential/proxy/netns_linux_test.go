package proxy

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

// netnsChild starts a process in a new network namespace with only lo
// (up) and returns its pid.
func netnsChild(t *testing.T) int {
	t.Helper()
	kavachtest.RequireRoot(t)
	kavachtest.RequireBinary(t, "unshare")
	kavachtest.RequireBinary(t, "ip")
	cmd := exec.Command("unshare", "-n", "sh", "-c", "ip link set lo up && echo ready && exec sleep 60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("netns child: %q %v", line, err)
	}
	return cmd.Process.Pid
}

// threadNetns returns the network namespace of every thread of this
// process.
func threadNetns(t *testing.T) map[string]bool {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range tasks {
		if l, err := os.Readlink(p); err == nil {
			seen[l] = true
		}
	}
	return seen
}

func TestListenInNetns(t *testing.T) {
	pid := netnsChild(t)
	curl := kavachtest.RequireBinary(t, "curl")
	kavachtest.RequireBinary(t, "nsenter")
	hostNS, _ := os.Readlink("/proc/self/ns/net")
	childNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if hostNS == childNS {
		t.Fatal("child shares our network namespace")
	}

	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	ev := &events{}
	p, err := New(Config{
		Allow:   []string{fmt.Sprintf("127.0.0.1:%d", upPort)},
		Headers: []credential.Header{newHeader(t, "127.0.0.1", upPort, "Authorization", "Bearer "+testToken)},
		OnEvent: ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	setup := p.SandboxSetup()
	stop, err := p.ServeInNetns(ctx, pid, setup.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := threadNetns(t); len(got) != 1 || !got[hostNS] {
		t.Fatalf("threads left in other namespaces: %v (host %s)", got, hostNS)
	}
	proxyAddr := setup.Addr

	// The host's loopback does not have the listener.
	if c, err := net.DialTimeout("tcp", proxyAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the host reached %s: the listener is not confined to the namespace", proxyAddr)
	}

	inside := func(args ...string) (string, error) {
		full := append([]string{"-t", fmt.Sprint(pid), "-n", curl, "-sS", "--max-time", "5"}, args...)
		out, err := exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
		return string(out), err
	}
	// Through the proxy, from inside: reaches the host's server, with the
	// credential injected over the client's own.
	out, err := inside("-x", "http://"+proxyAddr, "-H", "Authorization: Bearer forged", up.URL+"/in")
	if err != nil || out != "ok GET /in 0" {
		t.Fatalf("curl through the proxy: %q %v", out, err)
	}
	if h, _ := rec.header(); h.Get("Authorization") != "Bearer "+testToken {
		t.Fatalf("upstream saw Authorization %q", h.Get("Authorization"))
	}
	ev.waitFor(t, func(e Event) bool { return e.Allowed && e.Port == upPort && len(e.Injected) == 1 })

	// A program that ignores the proxy has no route out: the host's server
	// is not on the namespace's loopback, and there is no other interface.
	for _, target := range []string{up.URL + "/direct", "http://192.0.2.1:80/", "http://[2001:db8::1]:80/"} {
		if out, err := inside("--noproxy", "*", target); err == nil {
			t.Errorf("direct %s from inside succeeded: %q", target, out)
		}
	}
	// A second command in the same sandbox shares the listener; it stays
	// up until the last stop.
	stop2, err := p.ServeInNetns(ctx, pid, setup.Addr)
	if err != nil {
		t.Fatalf("second ServeInNetns: %v", err)
	}
	stop2()
	stop2()
	if out, err := inside("-x", "http://"+proxyAddr, up.URL+"/again"); err != nil || out != "ok GET /again 0" {
		t.Fatalf("after one stop: %q %v", out, err)
	}

	// Through the proxy, a host off the allowlist is refused.
	out, _ = inside("-x", "http://"+proxyAddr, "-i", "http://evil.test/")
	if !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "not on the allowlist") {
		t.Errorf("refusal from inside: %q", out)
	}
}

func TestListenInNetnsErrors(t *testing.T) {
	kavachtest.RequireRoot(t)
	ctx := context.Background()
	if _, err := ListenInNetns(ctx, "/nonexistent/ns", "127.0.0.1:0"); err == nil {
		t.Error("listened in a missing namespace")
	}
	if _, err := ListenInNetns(ctx, "/proc/self/ns/mnt", "127.0.0.1:0"); err == nil {
		t.Error("setns accepted a mount namespace as a network one")
	}
	before := threadNetns(t)
	if len(before) != 1 {
		t.Fatalf("threads in several namespaces: %v", before)
	}
}

// TestSandboxHTTPSInNetns runs curl inside a network namespace with only
// the environment and CA bundle a sandbox gets, against an HTTPS server
// on the host: the request is intercepted, the credential injected, and
// the credential is in neither the environment nor the bundle.
func TestSandboxHTTPSInNetns(t *testing.T) {
	pid := netnsChild(t)
	curl := kavachtest.RequireBinary(t, "curl")
	kavachtest.RequireBinary(t, "nsenter")
	rec := &recorder{}
	up := httptest.NewTLSServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	p, err := New(Config{
		// example.com resolves to the loopback server through the fake
		// resolver: no name leaves this machine.
		Allow: []string{fmt.Sprintf("127.0.0.1:%d", upPort), fmt.Sprintf("example.com:%d", upPort)},
		Headers: []credential.Header{
			newHeader(t, "127.0.0.1", 0, "Authorization", "Bearer "+testToken),
			newHeader(t, "example.com", 0, "Authorization", "Bearer "+testToken),
		},
		Resolver:           &fakeResolver{names: map[string][]string{"example.com": {"127.0.0.1"}}},
		ExtraUpstreamRoots: []*x509.Certificate{up.Certificate()},
	})
	if err != nil {
		t.Fatal(err)
	}
	loopbackOnly(p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	setup := p.SandboxSetup()
	if setup.CABundle == nil || setup.CABundlePath == "" {
		t.Fatal("no CA bundle with a header rule")
	}
	if strings.Contains(strings.Join(setup.Env, "\n")+string(setup.CABundle), testToken) {
		t.Fatal("the secret is in the sandbox's environment or bundle")
	}
	bundle := filepath.Join(t.TempDir(), "bundle.pem") // a tmpfs inside a real sandbox
	if err := os.WriteFile(bundle, setup.CABundle, 0o444); err != nil {
		t.Fatal(err)
	}
	stop, err := p.ServeInNetns(ctx, pid, setup.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	env := []string{"PATH=/usr/bin:/bin"}
	for _, kv := range setup.Env {
		env = append(env, strings.ReplaceAll(kv, setup.CABundlePath, bundle))
	}
	for _, target := range []string{up.URL + "/tls", fmt.Sprintf("https://example.com:%d/tls", upPort)} {
		cmd := exec.CommandContext(ctx, "nsenter", "-t", fmt.Sprint(pid), "-n", curl, "-sS", "--max-time", "5",
			"-H", "Authorization: Bearer forged", target)
		cmd.Env = env // curl reads https_proxy and CURL_CA_BUNDLE from here
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "ok GET /tls 0" {
			t.Fatalf("curl %s over intercepted HTTPS: %q %v (env %v)", target, out, err, env)
		}
		if h, host := rec.header(); h.Get("Authorization") != "Bearer "+testToken {
			t.Fatalf("upstream (Host %s) Authorization %q", host, h.Get("Authorization"))
		}
	}
}
