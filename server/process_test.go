package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
)

// TestProcessEndToEnd runs real commands through the API: output, exit
// codes, streaming, files both ways, the output gate, and a symlink the
// sandboxed code plants to reach host files.
func TestProcessEndToEnd(t *testing.T) {
	b := processBackend(t)
	ts := startServer(t, Options{Backends: []backend.Backend{b}})
	id := ts.create(t, map[string]any{"policy": "basic", "limits": map[string]any{"pids": 64}})
	sb := ts.base + "/v1/sandboxes/" + id

	g := do(t, ts.client, "GET", sb, nil).json(t)
	if sc := g["score"].(map[string]any)["value"].(float64); sc <= 0 {
		t.Errorf("enforced score %v of a process sandbox, want > 0", sc)
	}

	r := do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"sh", "-c", "echo out; echo err >&2; exit 7"}})
	v := r.json(t)
	if r.status != 200 || v["exit_code"] != float64(7) || v["stdout"] != "out\n" || v["stderr"] != "err\n" || v["termination"] != "exited" {
		t.Fatalf("exec: %d %s", r.status, r.body)
	}
	r = do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"cat"}, "stdin": "piped\n"})
	if v := r.json(t); v["stdout"] != "piped\n" {
		t.Errorf("stdin: %s", r.body)
	}
	// The exec's timeout bounds its start too: under -race and load a
	// sandbox can take longer than the timeout to start, which is a
	// timeout as well.
	start := time.Now()
	r = do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"sleep", "30"}, "timeout_ms": 2000})
	if v := r.json(t); !(r.status == 200 && v["termination"] == "timeout") && !(r.status == 504 && r.errCode(t) == "timeout") {
		t.Errorf("timeout: %d %s", r.status, r.body)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("a 2 s timeout took %v", d)
	}
	r = do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"/no/such/program"}})
	if r.status != 422 || r.errCode(t) != "exec_failed" {
		t.Errorf("missing program: %d %s", r.status, r.body)
	}

	// Streaming: lines arrive as events before the exit event.
	r = do(t, ts.client, "POST", sb+"/exec/stream", map[string]any{"args": []string{"sh", "-c", "echo one; sleep 0.1; echo two >&2; echo three"}})
	evs := ndjson(t, r.body)
	var out, errs strings.Builder
	for _, ev := range evs[:len(evs)-1] {
		switch ev["type"] {
		case "stdout":
			out.WriteString(ev["data"].(string))
		case "stderr":
			errs.WriteString(ev["data"].(string))
		default:
			t.Errorf("unexpected event %v", ev)
		}
	}
	exit := evs[len(evs)-1]
	if out.String() != "one\nthree\n" || errs.String() != "two\n" || exit["type"] != "exit" {
		t.Fatalf("stream: stdout %q stderr %q last %v", out.String(), errs.String(), exit)
	}
	if res := exit["result"].(map[string]any); res["exit_code"] != float64(0) || res["verdict"] != "Pass" {
		t.Errorf("exit event: %v", res)
	}

	// Files both ways.
	if r := do(t, ts.client, "PUT", sb+"/files?path=src/in.txt", "uploaded\n"); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r = do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"sh", "-c", "cat src/in.txt && echo made > out.txt && echo more >> src/in.txt"}})
	if v := r.json(t); v["stdout"] != "uploaded\n" || v["exit_code"] != float64(0) {
		t.Fatalf("sandbox reading the upload: %s", r.body)
	}
	if r := do(t, ts.client, "GET", sb+"/files?path=out.txt", nil); r.status != 200 || string(r.body) != "made\n" {
		t.Errorf("download: %d %q", r.status, r.body)
	}
	if r := do(t, ts.client, "GET", sb+"/files?path=src/in.txt", nil); string(r.body) != "uploaded\nmore\n" {
		t.Errorf("download of a file the sandbox appended to: %q", r.body)
	}

	// The sandbox plants symlinks to host files; the server must not follow them out.
	r = do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"sh", "-c", "ln -s /etc/passwd leak && ln -s / hostroot && ln -s ../../.. up"}})
	if v := r.json(t); v["exit_code"] != float64(0) {
		t.Fatalf("ln: %s", r.body)
	}
	for _, p := range []string{"leak", "hostroot/etc/passwd", "up/etc/passwd"} {
		r := do(t, ts.client, "GET", sb+"/files?path="+p, nil)
		if r.status != 400 || r.errCode(t) != "bad_path" || bytes.Contains(r.body, []byte("root:")) {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
		r = do(t, ts.client, "PUT", sb+"/files?path="+p, "pwned")
		if r.status != 400 {
			t.Errorf("PUT %s: %d %s", p, r.status, r.body)
		}
	}
	if data, _ := os.ReadFile("/etc/passwd"); bytes.Contains(data, []byte("pwned")) {
		t.Fatal("a write through a planted symlink reached /etc/passwd")
	}

	// The gate: a secret in the output is not released as is.
	const key = "AKIAZ7Q2XR4LMW9PT3KD"
	r = do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"echo", "aws_access_key_id = " + key}})
	v = r.json(t)
	if v["verdict"] == "Pass" || bytes.Contains(r.body, []byte(key)) {
		t.Errorf("secret released by exec: %s", r.body)
	}
	r = do(t, ts.client, "POST", sb+"/exec/stream", map[string]any{"args": []string{"echo", "aws_access_key_id = " + key}})
	if bytes.Contains(r.body, []byte(key)) {
		t.Errorf("secret released by stream: %s", r.body)
	}
	do(t, ts.client, "POST", sb+"/exec", map[string]any{"args": []string{"sh", "-c", "echo 'aws_access_key_id = " + key + "' > creds"}})
	r = do(t, ts.client, "GET", sb+"/files?path=creds", nil)
	if bytes.Contains(r.body, []byte(key)) || r.header.Get("X-Kavach-Verdict") == "pass" {
		t.Errorf("secret released by download: %d %v %s", r.status, r.header, r.body)
	}

	if r := do(t, ts.client, "DELETE", sb, nil); r.status != 204 {
		t.Fatalf("destroy: %d %s", r.status, r.body)
	}
}

// TestStreamIsLive checks that streamed output reaches the client while
// the command still runs.
func TestStreamIsLive(t *testing.T) {
	b := processBackend(t)
	ts := startServer(t, Options{Backends: []backend.Backend{b}})
	id := ts.create(t, map[string]any{})
	body, _ := json.Marshal(map[string]any{"args": []string{"sh", "-c", "echo first; sleep 20; echo second"}})
	resp, err := ts.client.Post(ts.base+"/v1/sandboxes/"+id+"/exec/stream", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// The command sleeps 20 s after the first line; under -race a
	// sandbox takes about a second to start.
	if !strings.Contains(line, `"first\n"`) || time.Since(start) > 10*time.Second {
		t.Errorf("first event %q after %v; want it before the command ends", line, time.Since(start))
	}
	// A client that goes away kills its command: the exec ends long
	// before the 20 s sleep would.
	resp.Body.Close()
	ts.client.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.metrics.inflight.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the exec outlived its disconnected client")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownKillsExecs starts execs that would run for a minute and
// shuts down with a short deadline: Shutdown returns promptly and leaves
// no sandbox and no workdir.
func TestShutdownKillsExecs(t *testing.T) {
	b := processBackend(t)
	dir := shortTemp(t)
	srv, err := New(Options{Backends: []backend.Backend{b}, DefaultBackend: "process", WorkRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	ln, err := Listen(sock, false)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	c := unixClient(sock)
	id := (&testServer{client: c, base: "http://kavach"}).create(t, map[string]any{})
	const n = 5
	results := make(chan int, n)
	var stopping atomic.Bool
	for range n {
		go func() {
			// An exec that ends before Shutdown failed to start; the test
			// is about shutdown, so it is started again, a few times.
			status := -1
			for range 3 {
				body, _ := json.Marshal(map[string]any{"args": []string{"sleep", "60"}})
				resp, err := c.Post("http://kavach/v1/sandboxes/"+id+"/exec", "application/json", bytes.NewReader(body))
				if err == nil {
					resp.Body.Close()
					status = resp.StatusCode
				}
				if stopping.Load() {
					break
				}
			}
			results <- status
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.metrics.inflight.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d execs in flight, want %d", srv.metrics.inflight.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	stopping.Store(true)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for range n {
		<-results
	}
	if n := srv.reg.count(); n != 0 {
		t.Errorf("%d sandboxes after shutdown", n)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Errorf("left behind in the work root: %s", e.Name())
	}
	if _, err := c.Get("http://kavach/v1/sandboxes"); err == nil {
		t.Error("the server still answers after Shutdown")
	}
}
