package server

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// startTCP serves a token-protected server on a loopback TCP port.
func startTCP(t testing.TB, tokens string) *testServer {
	t.Helper()
	toks, err := ParseTokens([]byte(tokens))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Tokens: toks, DefaultBackend: "noop", WorkRoot: shortTemp(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("tcp://127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, base: "http://" + ln.Addr().String(), client: &http.Client{}, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-ts.done
		if n := srv.reg.count(); n != 0 {
			t.Errorf("%d sandboxes left after shutdown", n)
		}
	})
	return ts
}

// TestTCPToken checks the bearer token on every route over TCP.
func TestTCPToken(t *testing.T) {
	const tok = "s3cr3t-t0ken-0123456789"
	ts := startTCP(t, "ci "+tok+"\n")
	paths := []struct{ method, path, body string }{
		{"GET", "/v1/sandboxes", ""}, {"POST", "/v1/sandboxes", "{}"}, {"GET", "/metrics", ""},
		{"GET", "/openapi.json", ""}, {"POST", "/v1/scan", "x"}, {"POST", "/mcp", "{}"},
		{"GET", "/v1/sandboxes/00000000-0000-4000-8000-000000000000", ""},
	}
	for _, p := range paths {
		for _, hdr := range []struct{ name, value string }{
			{"missing", ""}, {"wrong", "Bearer s3cr3t-t0ken-0123456780"}, {"prefix", "Bearer s3cr3t"},
			{"longer", "Bearer " + tok + "0"}, {"scheme", "Basic " + tok}, {"bare", tok},
		} {
			t.Run(p.method+p.path+"/"+hdr.name, func(t *testing.T) {
				var h []string
				if hdr.value != "" {
					h = []string{"Authorization", hdr.value}
				}
				var body any
				if p.body != "" {
					body = p.body
				}
				r := do(t, ts.client, p.method, ts.base+p.path, body, h...)
				if r.status != http.StatusUnauthorized || r.errCode(t) != "unauthorized" {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
	if n := ts.srv.reg.count(); n != 0 {
		t.Fatalf("an unauthenticated request created %d sandboxes", n)
	}
	r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", "{}", "Authorization", "Bearer "+tok)
	if r.status != http.StatusCreated {
		t.Fatalf("create with token: %d %s", r.status, r.body)
	}
	if owner := ts.srv.reg.list("")[0].owner; owner != "token:ci" {
		t.Errorf("owner %q, want token:ci", owner)
	}
}
