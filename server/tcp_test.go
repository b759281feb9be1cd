package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// startTCP serves a token-protected server on a loopback TCP port.
func startTCP(t testing.TB, tokens string) *testServer {
	t.Helper()
	return startTCPWith(t, tokens, Options{})
}

// startTCPWith is startTCP with opts (its Tokens, DefaultBackend and
// WorkRoot set here).
func startTCPWith(t testing.TB, tokens string, opts Options) *testServer {
	t.Helper()
	toks, err := ParseTokens([]byte(tokens))
	if err != nil {
		t.Fatal(err)
	}
	opts.Tokens, opts.DefaultBackend, opts.WorkRoot = toks, "noop", shortTemp(t)
	srv, err := New(opts)
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

// TestBrowserRequestsRefused checks that a web page cannot drive a
// token-less loopback server: cross-origin requests and DNS-rebound
// Host names get 403 and create nothing.
func TestBrowserRequestsRefused(t *testing.T) {
	srv, err := New(Options{DefaultBackend: "noop", WorkRoot: shortTemp(t), AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("tcp://127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	c := &http.Client{}
	tests := []struct {
		name   string
		hdr    []string
		status int
		code   string
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, 403, "cross_origin"},
		{"foreign origin", []string{"Origin", "http://evil.example"}, 403, "cross_origin"},
		{"rebound host", []string{"Host", "evil.example:8080"}, 403, "forbidden_host"},
		{"loopback", nil, 201, ""},
		{"localhost host", []string{"Host", "localhost"}, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", base+"/v1/sandboxes", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "text/plain")
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				if tc.hdr[i] == "Host" {
					req.Host = tc.hdr[i+1]
				} else {
					req.Header.Set(tc.hdr[i], tc.hdr[i+1])
				}
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			r := response{status: resp.StatusCode, body: data}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, data)
			}
			if tc.code != "" && r.errCode(t) != tc.code {
				t.Errorf("code %s: %s", r.errCode(t), data)
			}
		})
	}
	if n := srv.reg.count(); n != 2 {
		t.Errorf("%d sandboxes, want the 2 legitimate ones", n)
	}
}

// TestAnonymousRefused checks that a server without tokens serves no
// request it cannot tell apart by default: Serve refuses a TCP listener,
// and its handler answers 401 on any listener other than a Unix socket,
// creating nothing. With AllowAnonymous both work.
func TestAnonymousRefused(t *testing.T) {
	srv, err := New(Options{DefaultBackend: "noop", WorkRoot: shortTemp(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	ln, err := Listen("tcp://127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if !errors.Is(err, ErrAnonymous) {
			t.Fatalf("Serve on token-less TCP: %v, want ErrAnonymous", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on token-less TCP is serving, want ErrAnonymous")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the refused listener still accepts connections")
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Post(hs.URL+"/v1/sandboxes", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "unauthorized") {
		t.Errorf("anonymous request: %d %s, want 401 unauthorized", resp.StatusCode, body)
	}
	if n := srv.reg.count(); n != 0 {
		t.Errorf("%d sandboxes created by a refused request", n)
	}

	open, err := New(Options{DefaultBackend: "noop", WorkRoot: shortTemp(t), AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Shutdown(context.Background())
	hs2 := httptest.NewServer(open.Handler())
	defer hs2.Close()
	resp, err = http.Post(hs2.URL+"/v1/sandboxes", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("anonymous request with AllowAnonymous: %d, want 201", resp.StatusCode)
	}
}

// TestServeTLS checks that with Options.TLS a TCP listener speaks only
// TLS: a client that trusts the certificate creates a sandbox with its
// token, a plain-HTTP request gets no API answer, and a TLS
// configuration without a certificate is refused by New.
func TestServeTLS(t *testing.T) {
	lc := kavachtest.NewLoopbackCert(t)
	tok := "tls-token-0123456789"
	toks, err := ParseTokens([]byte("ci " + tok + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{DefaultBackend: "noop", WorkRoot: shortTemp(t), Tokens: toks,
		TLS: &tls.Config{Certificates: []tls.Certificate{lc.TLS}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("tcp://127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Shutdown(context.Background())
		<-done
	}()
	addr := ln.Addr().String()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: lc.Pool}}}
	req, _ := http.NewRequest("POST", "https://"+addr+"/v1/sandboxes", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.TLS == nil {
		t.Fatalf("over TLS: %d (TLS %v), want 201 over TLS", resp.StatusCode, resp.TLS != nil)
	}

	req, _ = http.NewRequest("POST", "http://"+addr+"/v1/sandboxes", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("plain HTTP to the TLS listener: %d, want a refusal", resp.StatusCode)
		}
	}
	if n := srv.reg.count(); n != 1 {
		t.Errorf("%d sandboxes, want the one created over TLS", n)
	}

	if _, err := New(Options{DefaultBackend: "noop", TLS: &tls.Config{}}); err == nil {
		t.Error("New accepted a TLS configuration without a certificate")
	}
}
