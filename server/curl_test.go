package server

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestCurlScript runs testdata/api.sh, a curl client, against a server
// on a Unix socket and one on TCP with a token.
func TestCurlScript(t *testing.T) {
	kavachtest.RequireBinary(t, "curl")
	bash := kavachtest.RequireBinary(t, "bash")
	b := bestBackend()
	ts := startServer(t, Options{Backends: []backend.Backend{b}})
	const tok = "curl-token-0123456789abcdef"
	tcp := startTCP(t, tok+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "testdata/api.sh")
	proc := "0"
	if b.Kind() == backend.Process {
		proc = "1"
	}
	cmd.Env = append(os.Environ(), "SOCK="+ts.sock, "TCP_URL="+tcp.base, "TOKEN="+tok, "PROCESS="+proc)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "api.sh: ok") {
		t.Fatalf("api.sh: %v\n%s", err, out)
	}
	if n := ts.srv.reg.count(); n != 0 {
		t.Errorf("%d sandboxes left", n)
	}
}
