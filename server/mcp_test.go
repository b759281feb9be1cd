package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kavach-go/kavach/backend"
)

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (map[string]any, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		var msg []string
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				msg = append(msg, tc.Text)
			}
		}
		return map[string]any{"error": strings.Join(msg, " ")}, false
	}
	data, _ := json.Marshal(res.StructuredContent)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: structured content %s: %v", name, data, err)
	}
	return v, true
}

// waitEmpty waits until the server has no live sandbox.
func waitEmpty(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.reg.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sandboxes still live", s.reg.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mcpRoundTrip exercises every tool through cs and checks that ending
// the session destroys its sandboxes.
func mcpRoundTrip(t *testing.T, s *Server, cs *mcp.ClientSession, real bool) {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	want := []string{"run", "sandbox_create", "sandbox_destroy", "sandbox_exec", "sandbox_read_file", "sandbox_write_file"}
	if !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
	v, ok := callTool(t, cs, "sandbox_create", map[string]any{"policy": "basic"})
	if !ok {
		t.Fatalf("sandbox_create: %v", v)
	}
	id := v["sandbox_id"].(string)
	if _, ok := v["score"]; !ok {
		t.Errorf("sandbox_create without score: %v", v)
	}
	if v, ok := callTool(t, cs, "sandbox_write_file", map[string]any{"sandbox_id": id, "path": "in.txt", "content": "from mcp\n"}); !ok || v["size"] != float64(9) {
		t.Fatalf("sandbox_write_file: %v", v)
	}
	if v, ok := callTool(t, cs, "sandbox_write_file", map[string]any{"sandbox_id": id, "path": "../escape", "content": "x"}); ok {
		t.Fatalf("sandbox_write_file outside the workdir succeeded: %v", v)
	}
	if v, ok := callTool(t, cs, "sandbox_read_file", map[string]any{"sandbox_id": id, "path": "in.txt"}); !ok || v["content"] != "from mcp\n" || v["verdict"] != "Pass" {
		t.Fatalf("sandbox_read_file: %v", v)
	}
	args := []string{"true"}
	if real {
		args = []string{"sh", "-c", "cat in.txt; echo err >&2; exit 3"}
	}
	v, ok = callTool(t, cs, "sandbox_exec", map[string]any{"sandbox_id": id, "command": args})
	if !ok {
		t.Fatalf("sandbox_exec: %v", v)
	}
	for _, k := range []string{"exit_code", "stdout", "stderr", "verdict", "score", "termination"} {
		if _, ok := v[k]; !ok {
			t.Errorf("sandbox_exec result lacks %q: %v", k, v)
		}
	}
	if real && (v["exit_code"] != float64(3) || v["stdout"] != "from mcp\n" || v["stderr"] != "err\n") {
		t.Errorf("sandbox_exec: %v", v)
	}
	if v, ok := callTool(t, cs, "sandbox_exec", map[string]any{"sandbox_id": "nope", "command": []string{"true"}}); ok {
		t.Errorf("sandbox_exec on an unknown id succeeded: %v", v)
	}
	for range 2 {
		if v, ok := callTool(t, cs, "sandbox_destroy", map[string]any{"sandbox_id": id}); !ok || v["destroyed"] != true {
			t.Fatalf("sandbox_destroy: %v", v)
		}
	}
	runArgs := []string{"true"}
	if real {
		runArgs = []string{"echo", "one shot"}
	}
	v, ok = callTool(t, cs, "run", map[string]any{"command": runArgs})
	if !ok || v["exit_code"] != float64(0) || (real && v["stdout"] != "one shot\n") {
		t.Fatalf("run: %v", v)
	}
	if n := s.reg.count(); n != 0 {
		t.Errorf("run left %d sandboxes", n)
	}
	// A sandbox left behind is destroyed when the session ends.
	if v, ok := callTool(t, cs, "sandbox_create", map[string]any{}); !ok {
		t.Fatalf("sandbox_create: %v", v)
	}
	if n := s.reg.count(); n != 1 {
		t.Fatalf("%d live sandboxes, want 1", n)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	waitEmpty(t, s)
}

// TestMCPInMemory is a round trip with the Go SDK's own client.
func TestMCPInMemory(t *testing.T) {
	b := bestBackend()
	ts := startServer(t, Options{Backends: []backend.Backend{b}})
	ct, st := mcp.NewInMemoryTransports()
	done := make(chan error, 1)
	go func() { done <- ts.srv.ServeMCP(context.Background(), st) }()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcpRoundTrip(t, ts.srv, cs, b.Kind() == backend.Process)
	if err := <-done; err != nil {
		t.Errorf("ServeMCP: %v", err)
	}
}

// TestMCPStreamableHTTP is a round trip over /mcp on a TCP listener.
func TestMCPStreamableHTTP(t *testing.T) {
	const tok = "mcp-token-0123456789abcdef"
	ts := startTCP(t, "agent "+tok+"\n")
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	tr := &mcp.StreamableClientTransport{Endpoint: ts.base + "/mcp", HTTPClient: &http.Client{Transport: bearer(tok)}}
	cs, err := c.Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcpRoundTrip(t, ts.srv, cs, false)
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// switchable sends the token it holds now, so that one MCP session can
// be opened by one client and then used by another.
type switchable struct {
	mu  sync.Mutex
	tok string
}

func (s *switchable) set(tok string) { s.mu.Lock(); s.tok = tok; s.mu.Unlock() }

func (s *switchable) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	tok := s.tok
	s.mu.Unlock()
	return bearer(tok).RoundTrip(r)
}

func mcpConnect(t *testing.T, ts *testServer, rt http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	tr := &mcp.StreamableClientTransport{Endpoint: ts.base + "/mcp", HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}
	cs, err := c.Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// TestMCPSessionsShareTheClientsQuota checks that a client opening many
// MCP sessions gets no more sandboxes than its quota, and that its
// sandboxes run under its own agent id (which the threat tracker scores),
// not a fresh one per session.
func TestMCPSessionsShareTheClientsQuota(t *testing.T) {
	const tok = "mcp-token-0123456789abcdef"
	ts := startTCPWith(t, "agent "+tok+"\n", Options{MaxSandboxesPerClient: 2})
	var created int
	for range 3 {
		cs := mcpConnect(t, ts, bearer(tok))
		for range 2 {
			if _, ok := callTool(t, cs, "sandbox_create", map[string]any{}); ok {
				created++
			}
		}
	}
	if created != 2 || ts.srv.reg.count() != 2 {
		t.Fatalf("one client made %d sandboxes through three MCP sessions (%d live), quota 2", created, ts.srv.reg.count())
	}
	for _, e := range ts.srv.reg.list("") {
		if got := e.sb.Config().AgentID; got != "token:agent" {
			t.Errorf("MCP sandbox runs as agent %q, want the client token:agent", got)
		}
	}
}

// TestMCPSessionBoundToClient checks that a session opened by one client
// cannot be used by another that learns its id.
func TestMCPSessionBoundToClient(t *testing.T) {
	const tokA, tokB = "mcp-token-A-0123456789abcdef", "mcp-token-B-0123456789abcdef"
	ts := startTCPWith(t, "alice "+tokA+"\nbob "+tokB+"\n", Options{})
	rt := &switchable{tok: tokA}
	cs := mcpConnect(t, ts, rt)
	v, ok := callTool(t, cs, "sandbox_create", map[string]any{})
	if !ok {
		t.Fatalf("sandbox_create: %v", v)
	}
	rt.set(tokB)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "sandbox_create", Arguments: map[string]any{}})
	if err == nil && !res.IsError {
		t.Fatalf("bob used alice's MCP session: %+v", res.StructuredContent)
	}
	if n := ts.srv.reg.count(); n != 1 {
		t.Fatalf("%d sandboxes, want alice's one", n)
	}
}

// TestMCPInternalErrorsStayInTheLog: a tool's internal error tells the
// client only that it happened, as the HTTP API does.
func TestMCPInternalErrorsStayInTheLog(t *testing.T) {
	ts, logBuf := startWithoutWorkRoot(t)
	ct, st := mcp.NewInMemoryTransports()
	go func() { _ = ts.srv.ServeMCP(context.Background(), st) }()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	v, ok := callTool(t, cs, "sandbox_create", map[string]any{})
	if ok || !strings.Contains(v["error"].(string), "internal error") || strings.Contains(v["error"].(string), ts.work) {
		t.Errorf("sandbox_create without a work root: %v", v)
	}
	if !strings.Contains(logBuf.String(), ts.work) {
		t.Errorf("the log lacks the detail: %q", logBuf.String())
	}
}

// TestMCPSessionsPerClientCapped: a client may hold at most
// MaxMCPSessionsPerClient sessions; closing one frees its slot, and
// another client is not affected.
func TestMCPSessionsPerClientCapped(t *testing.T) {
	const tokA, tokB = "mcp-token-A-0123456789abcdef", "mcp-token-B-0123456789abcdef"
	ts := startTCPWith(t, "alice "+tokA+"\nbob "+tokB+"\n", Options{MaxMCPSessionsPerClient: 2})
	first := mcpConnect(t, ts, bearer(tokA))
	mcpConnect(t, ts, bearer(tokA))
	connect := func(tok string) error {
		c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
		tr := &mcp.StreamableClientTransport{Endpoint: ts.base + "/mcp", HTTPClient: &http.Client{Transport: bearer(tok)}, MaxRetries: -1}
		cs, err := c.Connect(context.Background(), tr, nil)
		if err == nil {
			t.Cleanup(func() { _ = cs.Close() })
		}
		return err
	}
	if err := connect(tokA); err == nil {
		t.Fatal("a third session over a cap of 2 was opened")
	}
	if err := connect(tokB); err != nil {
		t.Fatalf("another client's session: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for connect(tokA) != nil {
		if time.Now().After(deadline) {
			t.Fatal("closing a session did not free its slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
