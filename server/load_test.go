package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/noop"
)

// TestLoad runs 200 concurrent short execs through the API on the noop
// backend and checks that all succeed and that no goroutine and no
// sandbox is left afterwards.
func TestLoad(t *testing.T) { testLoad(t, noop.New()) }

// TestLoadProcess is TestLoad on the process backend.
func TestLoadProcess(t *testing.T) { testLoad(t, processBackend(t)) }

func testLoad(t *testing.T, b backend.Backend) {
	const n = 200
	before := runtime.NumGoroutine()
	ts := startServer(t, Options{Backends: []backend.Backend{b}, MaxSandboxesPerClient: 20})
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = ts.create(t, map[string]any{"policy": "minimal"})
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"args": []string{"echo", "hello"}})
			resp, err := ts.client.Post(ts.base+"/v1/sandboxes/"+ids[i%len(ids)]+"/exec", "application/json", bytes.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var v map[string]any
			if resp.StatusCode != 200 || json.Unmarshal(data, &v) != nil || v["exit_code"] != float64(0) || v["error"] != nil {
				errs <- string(data)
				return
			}
			if b.Kind() == backend.Process && v["stdout"] != "hello\n" {
				errs <- "stdout " + string(data)
			}
		})
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d execs failed, first: %s", len(failed), n, failed[0])
	}
	var execs float64
	for _, id := range ids {
		v := do(t, ts.client, "GET", ts.base+"/v1/sandboxes/"+id, nil).json(t)
		execs += v["execs"].(float64)
		if do(t, ts.client, "DELETE", ts.base+"/v1/sandboxes/"+id, nil).status != 204 {
			t.Fatal("destroy failed")
		}
	}
	if execs != n {
		t.Errorf("sandboxes counted %v execs, want %d", execs, n)
	}
	if c := ts.srv.reg.count(); c != 0 {
		t.Errorf("%d sandboxes left", c)
	}
	m := string(do(t, ts.client, "GET", ts.base+"/metrics", nil).body)
	for _, want := range []string{
		"kavach_sandboxes_live 0\n", "kavach_sandboxes_created_total 20\n", "kavach_execs_in_flight 0\n",
		`kavach_sandboxes_destroyed_total{reason="client"} 20` + "\n",
		`kavach_exec_verdicts_total{verdict="pass"} 200` + "\n",
		`kavach_exec_duration_seconds_count{backend="` + b.Kind().String() + `"} 200` + "\n",
		`kavach_exec_duration_seconds_bucket{backend="` + b.Kind().String() + `",le="+Inf"} 200` + "\n",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	ts.client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	// Goroutines: the server's and the client's connections wind down.
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := runtime.NumGoroutine()
		// The server's reaper and listener goroutines stay until cleanup.
		if now <= before+4 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the load:\n%s", now, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIdleReaper checks that an idle sandbox is destroyed after the TTL
// and one with a request in flight is not.
func TestIdleReaper(t *testing.T) {
	ts := startServer(t, Options{IdleTTL: 100 * time.Millisecond})
	idle := ts.create(t, map[string]any{})
	busy := ts.create(t, map[string]any{})
	e, _ := ts.srv.reg.lookup(ts.srv.reg.list("")[0].owner, busy)
	done, ok := e.begin() // a request that runs for the whole test
	if !ok {
		t.Fatal("begin")
	}
	deadline := time.Now().Add(5 * time.Second)
	for do(t, ts.client, "GET", ts.base+"/v1/sandboxes/"+idle, nil).status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("idle sandbox not reaped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // several reaper rounds
	if r := do(t, ts.client, "GET", ts.base+"/v1/sandboxes/"+busy, nil); r.status != 200 {
		t.Errorf("sandbox with a request in flight reaped: %d", r.status)
	}
	done()
	// A reaped sandbox's DELETE is idempotent too.
	if r := do(t, ts.client, "DELETE", ts.base+"/v1/sandboxes/"+idle, nil); r.status != 204 {
		t.Errorf("delete of a reaped sandbox: %d %s", r.status, r.body)
	}
	if m := string(do(t, ts.client, "GET", ts.base+"/metrics", nil).body); !strings.Contains(m, `kavach_sandboxes_destroyed_total{reason="idle"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}
	// Once its request ended, the busy one goes idle and is reaped too.
	for do(t, ts.client, "GET", ts.base+"/v1/sandboxes/"+busy, nil).status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("sandbox not reaped after its request ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
