package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

func TestMain(m *testing.M) {
	kavach.Init()
	os.Exit(m.Run())
}

// processBackend returns the process backend, or skips (fails under
// KAVACH_TEST_STRICT) with the reason it cannot run here.
func processBackend(t testing.TB) backend.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	b := process.New()
	if err := b.Available(context.Background()); err != nil {
		kavachtest.Skip(t, "process backend: %v", err)
	}
	return b
}

// bestBackend returns the process backend when it runs here, else noop;
// for tests whose point holds with either.
func bestBackend() backend.Backend {
	if os.Geteuid() == 0 {
		if b := process.New(); b.Available(context.Background()) == nil {
			return b
		}
	}
	return noop.New()
}

// testServer is a server serving a Unix socket in a private directory.
type testServer struct {
	srv    *Server
	sock   string
	work   string
	client *http.Client
	base   string
	done   chan error
}

// shortTemp returns a fresh directory with a short path (Unix socket
// paths are limited to 108 bytes), removed at cleanup.
func shortTemp(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ks")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	// Sandboxes run as unprivileged uids that must reach workdirs below.
	if err := os.Chmod(d, 0o711); err != nil {
		t.Fatal(err)
	}
	return d
}

// startServer serves opts on a Unix socket until the test ends.
func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	dir := shortTemp(t)
	if opts.WorkRoot == "" {
		opts.WorkRoot = filepath.Join(dir, "work")
		if err := os.Mkdir(opts.WorkRoot, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Backends == nil {
		opts.Backends = []backend.Backend{noop.New()}
	}
	if opts.DefaultBackend == "" {
		opts.DefaultBackend = opts.Backends[0].Kind().String()
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "k.sock")
	ln, err := Listen("unix://"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, sock: sock, work: opts.WorkRoot, base: "http://kavach", done: make(chan error, 1)}
	ts.client = unixClient(sock)
	go func() { ts.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		ts.client.CloseIdleConnections()
		if n := srv.reg.count(); n != 0 {
			t.Errorf("%d sandboxes left after shutdown", n)
		}
		if ents, _ := os.ReadDir(ts.work); len(ents) != 0 {
			t.Errorf("workdirs left after shutdown: %v", ents)
		}
	})
	return ts
}

func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 256,
	}}
}

// response is a decoded reply.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %v: %q", r.status, err, r.body)
	}
	return v
}

// errCode returns the error code of an error body, failing the test when
// the body is not the documented error shape.
func (r response) errCode(t testing.TB) string {
	t.Helper()
	var v errorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || v.Error.Code == "" || v.Error.Message == "" {
		t.Fatalf("status %d: not an error object (%v): %q", r.status, err, r.body)
	}
	return v.Error.Code
}

func do(t testing.TB, c *http.Client, method, url string, body any, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// create makes a sandbox and returns its id.
func (ts *testServer) create(t testing.TB, req any) string {
	t.Helper()
	r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", req)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	if id == "" {
		t.Fatalf("create: no id: %s", r.body)
	}
	return id
}
