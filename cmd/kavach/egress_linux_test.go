package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestRunAllowHostSecretHeader is the example, through the CLI.
func TestRunAllowHostSecretHeader(t *testing.T) {
	kavachtest.RequireRoot(t)
	kavachtest.RequireBinary(t, "curl")
	t.Setenv("TOKEN", "cli-"+"7a7a7a7a")
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Authorization")
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	code, out, stderr := run(t, "", "run", "--allow-host", "127.0.0.1:"+port,
		"--secret-header", "127.0.0.1:"+port+":Authorization=Bearer env:TOKEN", "--", "curl", "-s", "http://127.0.0.1:"+port+"/")
	if code != 0 || out != "ok\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, stderr)
	}
	if got := <-seen; got != "Bearer cli-7a7a7a7a" {
		t.Errorf("server saw %q", got)
	}
}
