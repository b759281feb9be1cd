package kavach

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// TestEgressThroughProxyEndToEnd runs curl in a process sandbox whose
// only way out is the proxy: the loopback server receives the injected
// header, the secret's bytes appear nowhere inside the sandbox, and a
// connection that ignores the proxy has no route.
func TestEgressThroughProxyEndToEnd(t *testing.T) {
	kavachtest.RequireRoot(t)
	kavachtest.RequireBinary(t, "curl")
	token := "tok-" + "e2e-51c0ffee"
	t.Setenv("KAVACH_E2E_TOKEN", token)

	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte("hello " + r.URL.Path + "\n"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	hostport := "127.0.0.1:" + port

	rule, err := credential.ParseHeaderRule(hostport + ":Authorization=Bearer env:KAVACH_E2E_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	p := policy.Basic()
	p.Network = policy.Network{Enabled: true, AllowedHosts: []string{hostport}}
	sb, err := Create(t.Context(), Config{Backend: backend.Process, Policy: p, HeaderRules: []credential.HeaderRule{rule}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	if err := sb.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e, _ := sb.Enforced(t.Context()); e.Network != backend.NetworkProxy {
		t.Errorf("enforced network %q, want proxy", e.Network)
	}
	res, err := sb.Exec(t.Context(), Shell(`curl -sS -H 'Authorization: Bearer forged' http://`+hostport+`/plain`))
	if err != nil || string(res.Stdout) != "hello /plain\n" {
		t.Fatalf("proxied curl: %v %+v stderr %q", err, res, res.Stderr)
	}
	mu.Lock()
	if len(got) != 1 || got[0] != "Bearer "+token {
		t.Errorf("upstream saw Authorization %q, want the injected one", got)
	}
	mu.Unlock()

	res, err = sb.Exec(t.Context(), Shell(`curl -sS --max-time 5 --noproxy '*' http://`+hostport+`/direct; echo "rc=$?"`))
	if err != nil || strings.Contains(string(res.Stdout), "hello") || strings.Contains(string(res.Stdout), "rc=0") {
		t.Errorf("a connection ignoring the proxy got out: %q %v", res.Stdout, err)
	}

	// The same through intercepted TLS: curl trusts the sandbox's CA
	// bundle from the environment the proxy set.
	tsrv := httptest.NewTLSServer(srv.Config.Handler)
	defer tsrv.Close()
	_, tport, _ := net.SplitHostPort(tsrv.Listener.Addr().String())
	thost := "127.0.0.1:" + tport
	trule, err := credential.ParseHeaderRule(thost + ":Authorization=Bearer env:KAVACH_E2E_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	tp := policy.Basic()
	tp.Network = policy.Network{Enabled: true, AllowedHosts: []string{thost}}
	tsb, err := Create(t.Context(), Config{Backend: backend.Process, Policy: tp, HeaderRules: []credential.HeaderRule{trule},
		EgressRoots: []*x509.Certificate{tsrv.Certificate()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tsb.Destroy(t.Context())
	if err := tsb.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err = tsb.Exec(t.Context(), Shell(`curl -sS https://`+thost+`/tls`))
	if err != nil || string(res.Stdout) != "hello /tls\n" {
		t.Fatalf("intercepted https: %v stdout %q stderr %q", err, res.Stdout, res.Stderr)
	}
	mu.Lock()
	if len(got) != 2 || got[1] != "Bearer "+token {
		t.Errorf("TLS upstream saw %q", got)
	}
	mu.Unlock()

	off := *sb.cfg.Scan
	off.Enabled = false
	sb.cfg.Scan = &off // dump raw, so that nothing is redacted on the way out
	res, err = sb.Exec(t.Context(), Shell(`env; cat /proc/self/environ; cat /run/kavach/ca-bundle.pem 2>/dev/null; grep -rs . /run /tmp /etc 2>/dev/null | head -c 2000000`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Stdout), "e2e-51c0ffee") || strings.Contains(string(res.Stderr), "e2e-51c0ffee") {
		t.Errorf("the injected secret is visible inside the sandbox")
	}
	if !strings.Contains(string(res.Stdout), "HTTP_PROXY=http://127.0.0.1:3128") {
		t.Errorf("proxy variables not set: %q", res.Stdout[:min(len(res.Stdout), 400)])
	}
}
