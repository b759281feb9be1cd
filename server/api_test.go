package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestOpenAPIRoutes checks that every route is documented and every
// documented path and method is routed, and that /openapi.json serves
// the repository's file.
func TestOpenAPIRoutes(t *testing.T) {
	ts := startServer(t, Options{})
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(file, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	for _, r := range ts.srv.Routes() {
		method, path, ok := strings.Cut(r, " ")
		if !ok { // a pattern without a method serves MCP's GET, POST and DELETE
			for _, m := range []string{"GET", "POST", "DELETE"} {
				routed[m+" "+r] = true
			}
			continue
		}
		routed[method+" "+path] = true
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which is not routed", d)
		}
	}
	// Every $ref points at a component that exists.
	var whole map[string]any
	if err := json.Unmarshal(file, &whole); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if ref, ok := x.(string); ok && k == "$ref" {
					var node any = whole
					for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
						m, _ := node.(map[string]any)
						node = m[part]
					}
					if node == nil {
						t.Errorf("dangling $ref %s", ref)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(whole)
	r := do(t, ts.client, "GET", ts.base+"/openapi.json", nil)
	if r.status != 200 || !bytes.Equal(r.body, file) {
		t.Errorf("/openapi.json: status %d, same as the file: %v", r.status, bytes.Equal(r.body, file))
	}
}

// TestAPILifecycle walks a sandbox through create, get, list, files,
// exec, stream, pause, resume, stop and destroy on the noop backend.
func TestAPILifecycle(t *testing.T) {
	ts := startServer(t, Options{})
	id := ts.create(t, map[string]any{"policy": "strict", "limits": map[string]any{"memory_mb": 256, "timeout_ms": 5000}})
	sb := "/v1/sandboxes/" + id

	g := do(t, ts.client, "GET", ts.base+sb, nil)
	v := g.json(t)
	if g.status != 200 || v["state"] != "Running" || v["backend"] != "noop" {
		t.Fatalf("get: %d %s", g.status, g.body)
	}
	if pol := v["policy"].(map[string]any); pol["memory_limit_mb"] != float64(256) || pol["seccomp_profile"] != "strict" {
		t.Errorf("policy not applied: %v", pol)
	}
	if v["timeout_ms"] != float64(5000) {
		t.Errorf("timeout_ms %v, want 5000", v["timeout_ms"])
	}
	l := do(t, ts.client, "GET", ts.base+"/v1/sandboxes", nil)
	if l.status != 200 || len(l.json(t)["sandboxes"].([]any)) != 1 {
		t.Fatalf("list: %d %s", l.status, l.body)
	}

	up := do(t, ts.client, "PUT", ts.base+sb+"/files?path=dir/sub/hello.txt", "hello, sandbox\n")
	if up.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	dn := do(t, ts.client, "GET", ts.base+sb+"/files?path=dir/sub/hello.txt", nil)
	if dn.status != 200 || string(dn.body) != "hello, sandbox\n" || dn.header.Get("X-Kavach-Verdict") != "pass" {
		t.Fatalf("download: %d %q %v", dn.status, dn.body, dn.header)
	}

	ex := do(t, ts.client, "POST", ts.base+sb+"/exec", map[string]any{"args": []string{"true"}})
	ev := ex.json(t)
	if ex.status != 200 || ev["exit_code"] != float64(0) || ev["verdict"] != "Pass" || ev["sandbox_id"] != id {
		t.Fatalf("exec: %d %s", ex.status, ex.body)
	}
	if _, ok := ev["score"].(map[string]any)["value"]; !ok {
		t.Errorf("exec result without score: %s", ex.body)
	}

	st := do(t, ts.client, "POST", ts.base+sb+"/exec/stream", map[string]any{"args": []string{"true"}})
	if st.status != 200 || st.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("stream: %d %v %s", st.status, st.header, st.body)
	}
	evs := ndjson(t, st.body)
	if last := evs[len(evs)-1]; last["type"] != "exit" {
		t.Fatalf("stream did not end with exit: %s", st.body)
	}

	for _, step := range []struct{ action, state string }{{"pause", "Paused"}, {"resume", "Running"}, {"stop", "Stopped"}} {
		r := do(t, ts.client, "POST", ts.base+sb+"/"+step.action, nil)
		if r.status != 200 || r.json(t)["state"] != step.state {
			t.Fatalf("%s: %d %s", step.action, r.status, r.body)
		}
	}
	if r := do(t, ts.client, "POST", ts.base+sb+"/exec", map[string]any{"args": []string{"true"}}); r.status != 409 || r.errCode(t) != "conflict" {
		t.Errorf("exec on stopped sandbox: %d %s", r.status, r.body)
	}
	if r := do(t, ts.client, "POST", ts.base+sb+"/pause", nil); r.status != 409 {
		t.Errorf("pause on stopped sandbox: %d %s", r.status, r.body)
	}
	g = do(t, ts.client, "GET", ts.base+sb, nil)
	if vs := g.json(t)["verdicts"].([]any); len(vs) != 2 {
		t.Errorf("verdicts %v, want the 2 execs'", vs)
	}

	for i := range 2 { // idempotent
		if r := do(t, ts.client, "DELETE", ts.base+sb, nil); r.status != http.StatusNoContent {
			t.Fatalf("destroy #%d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := do(t, ts.client, "GET", ts.base+sb, nil); r.status != 404 || r.errCode(t) != "not_found" {
		t.Errorf("get after destroy: %d %s", r.status, r.body)
	}
	if ents, _ := os.ReadDir(ts.work); len(ents) != 0 {
		t.Errorf("workdir left after destroy: %v", ents)
	}
}

func ndjson(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("stream line %q: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatal("empty stream")
	}
	return out
}

// TestAPIErrors checks that every kind of bad request gets a clear 4xx
// JSON error and leaks nothing of the host.
func TestAPIErrors(t *testing.T) {
	ts := startServer(t, Options{
		MaxBodyBytes: 4096, MaxFileBytes: 8192, MaxSandboxesPerClient: 3,
		Backends: []backend.Backend{noop.New(), backend.NotImplemented(backend.TDX)},
	})
	id := ts.create(t, map[string]any{})
	sb := "/v1/sandboxes/" + id
	var wd string
	for _, e := range ts.srv.reg.list("") {
		wd = e.workdir
	}
	// Things planted in the workdir, as sandboxed code could.
	for name, target := range map[string]string{"passwd": "/etc/passwd", "up": "..", "etc": "/etc"} {
		if err := os.Symlink(target, filepath.Join(wd, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(wd, "fifo"), 0o666); err != nil {
		t.Fatal(err)
	}
	unknown := "/v1/sandboxes/00000000-0000-4000-8000-000000000000"
	big := strings.Repeat("x", 9000)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"bad json", "POST", "/v1/sandboxes", "{nope", 400, "bad_json"},
		{"empty body", "POST", "/v1/sandboxes", "", 400, "bad_json"},
		{"trailing data", "POST", "/v1/sandboxes", "{}{}", 400, "bad_json"},
		{"unknown field", "POST", "/v1/sandboxes", `{"backnd":"noop"}`, 400, "bad_json"},
		{"oversized body", "POST", "/v1/sandboxes", `{"env":["A=` + big + `"]}`, 413, "too_large"},
		{"oversized exec", "POST", sb + "/exec", `{"args":["` + big + `"]}`, 413, "too_large"},
		{"unknown preset", "POST", "/v1/sandboxes", `{"policy":"paranoid"}`, 400, "invalid_policy"},
		{"policy file name", "POST", "/v1/sandboxes", `{"policy":"/etc/kavach/p.json"}`, 400, "invalid_policy"},
		{"bad policy field", "POST", "/v1/sandboxes", `{"policy":{"seccomp_enabled":true,"seccomp_profile":"lax"}}`, 400, "invalid_policy"},
		{"unknown policy field", "POST", "/v1/sandboxes", `{"policy":{"seccomp":true}}`, 400, "invalid_policy"},
		{"host mount", "POST", "/v1/sandboxes", `{"policy":{"mounts":[{"source":"/etc","target":"/x","read_only":true}]}}`, 403, "forbidden_policy"},
		{"data dir", "POST", "/v1/sandboxes", `{"policy":{"data_dir":"/root"}}`, 403, "forbidden_policy"},
		{"host network", "POST", "/v1/sandboxes", `{"policy":{"network":{"enabled":true}}}`, 403, "forbidden_policy"},
		{"unknown backend", "POST", "/v1/sandboxes", `{"backend":"chroot"}`, 400, "invalid_config"},
		{"unavailable backend", "POST", "/v1/sandboxes", `{"backend":"tdx"}`, 422, "backend_unavailable"},
		{"negative cpus", "POST", "/v1/sandboxes", `{"limits":{"cpus":-1}}`, 400, "invalid_policy"},
		{"timeout over max", "POST", "/v1/sandboxes", `{"limits":{"timeout_ms":99999999999}}`, 400, "invalid_config"},
		{"unknown id get", "GET", unknown, nil, 404, "not_found"},
		{"unknown id delete", "DELETE", unknown, nil, 404, "not_found"},
		{"unknown id exec", "POST", unknown + "/exec", `{"args":["true"]}`, 404, "not_found"},
		{"unknown id stream", "POST", unknown + "/exec/stream", `{"args":["true"]}`, 404, "not_found"},
		{"unknown id pause", "POST", unknown + "/pause", nil, 404, "not_found"},
		{"unknown id put", "PUT", unknown + "/files?path=a", "x", 404, "not_found"},
		{"unknown id get file", "GET", unknown + "/files?path=a", nil, 404, "not_found"},
		{"empty argv", "POST", sb + "/exec", `{"args":[]}`, 400, "invalid_command"},
		{"bad env", "POST", sb + "/exec", `{"args":["true"],"env":["NOEQUALS"]}`, 400, "invalid_command"},
		{"stdin twice", "POST", sb + "/exec", `{"args":["true"],"stdin":"a","stdin_base64":"YQ=="}`, 400, "invalid_command"},
		{"traversal put", "PUT", sb + "/files?path=../x", "x", 400, "bad_path"},
		{"traversal get", "GET", sb + "/files?path=../../../etc/passwd", nil, 400, "bad_path"},
		{"absolute put", "PUT", sb + "/files?path=/etc/passwd", "x", 400, "bad_path"},
		{"absolute get", "GET", sb + "/files?path=/etc/passwd", nil, 400, "bad_path"},
		{"inner traversal", "GET", sb + "/files?path=a/../../x", nil, 400, "bad_path"},
		{"no path", "GET", sb + "/files", nil, 400, "bad_path"},
		{"symlink get", "GET", sb + "/files?path=passwd", nil, 400, "bad_path"},
		{"symlink put", "PUT", sb + "/files?path=passwd", "pwned", 400, "bad_path"},
		{"symlink dir get", "GET", sb + "/files?path=etc/passwd", nil, 400, "bad_path"},
		{"symlink dir put", "PUT", sb + "/files?path=etc/kavach-pwned", "x", 400, "bad_path"},
		{"symlink parent", "GET", sb + "/files?path=up/" + filepath.Base(ts.work) + "/x", nil, 400, "bad_path"},
		{"symlink parent put", "PUT", sb + "/files?path=up/pwned", "x", 400, "bad_path"},
		{"fifo get", "GET", sb + "/files?path=fifo", nil, 400, "bad_path"},
		{"fifo put", "PUT", sb + "/files?path=fifo", "x", 400, "bad_path"},
		{"directory get", "GET", sb + "/files?path=.", nil, 400, "bad_path"},
		{"missing file", "GET", sb + "/files?path=nope.txt", nil, 404, "not_found"},
		{"oversized upload", "PUT", sb + "/files?path=big", big, 413, "too_large"},
		{"unknown route", "GET", "/v2/sandboxes", nil, 404, "not_found"},
		{"wrong method", "PATCH", sb, nil, 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, ts.client, tc.method, ts.base+tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if c := r.errCode(t); c != tc.code {
					t.Errorf("code %q, want %q: %s", c, tc.code, r.body)
				}
			}
			for _, leak := range []string{"root:x:0:0", wd, ts.work} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("response leaks %q: %s", leak, r.body)
				}
			}
		})
	}
	if _, err := os.Lstat("/etc/kavach-pwned"); err == nil {
		t.Error("a write through a symlink reached /etc")
	}
	if _, err := os.Lstat(filepath.Join(ts.work, "pwned")); err == nil {
		t.Error("a write through a symlink left the workdir")
	}
	if _, err := os.Lstat(filepath.Join(wd, "big")); err == nil {
		t.Error("an oversized upload left a partial file")
	}
	// The quota: one sandbox exists; two more fit, the fourth does not.
	ts.create(t, map[string]any{})
	ts.create(t, map[string]any{})
	r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", map[string]any{})
	if r.status != 429 || r.errCode(t) != "quota_exceeded" {
		t.Errorf("over quota: %d %s", r.status, r.body)
	}
	if n := ts.srv.reg.count(); n != 3 {
		t.Errorf("%d live sandboxes, want 3", n)
	}
}

// TestBackendsScoreScan covers the host-level endpoints.
func TestBackendsScoreScan(t *testing.T) {
	ts := startServer(t, Options{Backends: []backend.Backend{noop.New(), backend.NotImplemented(backend.TDX)}})
	r := do(t, ts.client, "GET", ts.base+"/v1/backends", nil)
	bs := r.json(t)["backends"].([]any)
	if r.status != 200 || len(bs) != 2 {
		t.Fatalf("backends: %d %s", r.status, r.body)
	}
	if b := bs[1].(map[string]any); b["name"] != "tdx" || b["available"] != false || !strings.Contains(b["reason"].(string), "not implemented") {
		t.Errorf("tdx row: %v", b)
	}
	r = do(t, ts.client, "POST", ts.base+"/v1/score", map[string]any{"backend": "noop", "policy": "strict"})
	if r.status != 200 || r.json(t)["score"].(map[string]any)["value"] != float64(0) {
		t.Errorf("score: %d %s", r.status, r.body)
	}
	r = do(t, ts.client, "POST", ts.base+"/v1/score", map[string]any{"backend": "tdx"})
	if r.status != 422 {
		t.Errorf("score of unavailable backend: %d %s", r.status, r.body)
	}
	r = do(t, ts.client, "POST", ts.base+"/v1/scan", "key = AKIAIOSFODNN7EXAMPLF\nnothing else\n")
	v := r.json(t)
	if r.status != 200 || v["verdict"] == "Pass" || len(v["findings"].([]any)) == 0 {
		t.Errorf("scan of an AWS key: %d %s", r.status, r.body)
	}
	r = do(t, ts.client, "POST", ts.base+"/v1/scan", "hello world\n")
	if v := r.json(t); r.status != 200 || v["verdict"] != "Pass" || len(v["findings"].([]any)) != 0 {
		t.Errorf("scan of clean text: %d %s", r.status, r.body)
	}
	r = do(t, ts.client, "GET", ts.base+"/v1/audit/verify", nil)
	if r.status != 404 || r.errCode(t) != "no_audit_log" {
		t.Errorf("audit verify without a log: %d %s", r.status, r.body)
	}
}

// TestClientsAreIsolated checks that one client cannot see, use or
// destroy another's sandbox, over TCP with two tokens.
func TestClientsAreIsolated(t *testing.T) {
	ts := startTCP(t, "alice aaaaaaaaaaaaaaaaaaaa\nbob bbbbbbbbbbbbbbbbbbbb\n")
	alice, bob := "Bearer aaaaaaaaaaaaaaaaaaaa", "Bearer bbbbbbbbbbbbbbbbbbbb"
	r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", "{}", "Authorization", alice)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/sandboxes/" + id}, {"POST", "/v1/sandboxes/" + id + "/stop"},
		{"GET", "/v1/sandboxes/" + id + "/files?path=x"}, {"DELETE", "/v1/sandboxes/" + id},
	} {
		if r := do(t, ts.client, c.method, ts.base+c.path, nil, "Authorization", bob); r.status != 404 {
			t.Errorf("bob %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := do(t, ts.client, "GET", ts.base+"/v1/sandboxes", nil, "Authorization", bob); len(r.json(t)["sandboxes"].([]any)) != 0 {
		t.Errorf("bob lists alice's sandbox: %s", r.body)
	}
	if r := do(t, ts.client, "GET", ts.base+"/v1/sandboxes/"+id, nil, "Authorization", alice); r.status != 200 {
		t.Errorf("alice get: %d %s", r.status, r.body)
	}
}

func TestListenRefusesInsecureTCP(t *testing.T) {
	tests := []struct {
		addr      string
		withToken bool
		err       error
	}{
		{"tcp://0.0.0.0:0", false, ErrInsecureListen},
		{"tcp://[::]:0", false, ErrInsecureListen},
		{"tcp://:0", false, ErrInsecureListen},
		{"tcp://example.com:0", false, ErrInsecureListen},
		{"tcp://127.0.0.1:0", false, nil},
		{"tcp://localhost:0", false, nil},
		{"tcp://0.0.0.0:0", true, nil},
		{"tcp://127.0.0.1", false, ErrBadListen},
		{"http://127.0.0.1:0", false, ErrBadListen},
		{"relative.sock", false, ErrBadListen},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.addr, tc.withToken), func(t *testing.T) {
			ln, err := Listen(tc.addr, tc.withToken)
			if ln != nil {
				ln.Close()
			}
			if tc.err == nil && err != nil {
				t.Fatalf("Listen: %v", err)
			}
			if tc.err != nil && !errorsIs(err, tc.err) {
				t.Fatalf("Listen: %v, want %v", err, tc.err)
			}
		})
	}
}

func TestUnixSocket(t *testing.T) {
	ts := startServer(t, Options{})
	st, err := os.Stat(ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("socket mode %v, want 0600", m)
	}
	ts.create(t, map[string]any{})
	owners := []string{}
	for _, e := range ts.srv.reg.list("") {
		owners = append(owners, e.owner)
	}
	if want := fmt.Sprintf("uid:%d", os.Getuid()); !slices.Equal(owners, []string{want}) {
		t.Errorf("owners %v, want [%s] (SO_PEERCRED)", owners, want)
	}
	// A second Listen on a live socket fails; on a stale one it succeeds.
	if ln, err := Listen(ts.sock, false); err == nil {
		ln.Close()
		t.Error("Listen took over a live socket")
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		names []string
		ok    bool
	}{
		{"one", "0123456789abcdef0123\n", []string{"token-1"}, true},
		{"named", "# comment\n\nci 0123456789abcdef0123\nme fedcba98765432100123\n", []string{"ci", "me"}, true},
		{"short", "short\n", nil, false},
		{"three fields", "a b c\n", nil, false},
		{"empty", "\n# nothing\n", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTokens([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			var names []string
			for _, tk := range ts {
				names = append(names, tk.Name)
				if strings.Contains(fmt.Sprint(tk), "0123456789") {
					t.Errorf("token prints its value: %v", tk)
				}
			}
			sort.Strings(names)
			if !slices.Equal(names, tc.names) {
				t.Errorf("names %v, want %v", names, tc.names)
			}
		})
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "tokens")
	if err := os.WriteFile(f, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(f); !errorsIs(err, ErrBadToken) {
		t.Errorf("LoadTokens of a world-readable file: %v", err)
	}
	_ = os.Chmod(f, 0o600)
	if ts, err := LoadTokens(f); err != nil || len(ts) != 1 {
		t.Errorf("LoadTokens: %v %v", ts, err)
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123\n"))
	f.Add([]byte("name 0123456789abcdef0123\n# c\n"))
	f.Add([]byte("a b c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseTokens(data)
		if err != nil {
			return
		}
		for _, tk := range ts {
			if !cleanName(tk.Name) {
				t.Errorf("accepted a bad name %q", tk.Name)
			}
		}
	})
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "/etc/passwd", "a/../../b", ".", "", "a\x00b", "./a", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		clean := filepath.Clean(name)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsRune(name, 0) {
			t.Errorf("checkName accepted %q (clean %q)", name, clean)
		}
	})
}

// TestHostNetworkPolicy: a client may route egress to allowed_hosts
// through the proxy, but shares the host's network only when the
// operator allows it.
func TestHostNetworkPolicy(t *testing.T) {
	host := map[string]any{"policy": map[string]any{"network": map[string]any{"enabled": true}}}
	proxied := map[string]any{"policy": map[string]any{"network": map[string]any{"enabled": true, "allowed_hosts": []string{"api.example.com"}}}}
	ts := startServer(t, Options{})
	if r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", host); r.status != 403 || r.errCode(t) != "forbidden_policy" {
		t.Errorf("host network by default: %d %s", r.status, r.body)
	}
	// The test's noop backend cannot host the proxy (422); what matters
	// is that the server does not forbid the policy.
	if r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", proxied); r.status == 403 {
		t.Errorf("egress to allowed_hosts refused: %d %s", r.status, r.body)
	}
	ts = startServer(t, Options{AllowHostNetwork: true})
	if r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", host); r.status != 201 {
		t.Errorf("host network when allowed: %d %s", r.status, r.body)
	}
}

// TestLimitCaps: the server's MaxMemoryMB and MaxPids become the limits of
// a sandbox whose policy sets none, and a client asking for more is
// refused.
func TestLimitCaps(t *testing.T) {
	ts := startServer(t, Options{MaxMemoryMB: 256, MaxPids: 32})
	policyOf := func(id string) map[string]any {
		r := do(t, ts.client, "GET", ts.base+"/v1/sandboxes/"+id, nil)
		if r.status != 200 {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		return r.json(t)["policy"].(map[string]any)
	}
	p := policyOf(ts.create(t, map[string]any{"policy": "basic"}))
	if p["memory_limit_mb"] != float64(256) || p["max_pids"] != float64(32) {
		t.Errorf("basic policy under caps: memory %v pids %v, want 256 and 32", p["memory_limit_mb"], p["max_pids"])
	}
	p = policyOf(ts.create(t, map[string]any{"policy": "basic", "limits": map[string]any{"memory_mb": 128, "pids": 16}}))
	if p["memory_limit_mb"] != float64(128) || p["max_pids"] != float64(16) {
		t.Errorf("limits under the caps: memory %v pids %v, want 128 and 16", p["memory_limit_mb"], p["max_pids"])
	}
	for _, req := range []map[string]any{
		{"limits": map[string]any{"memory_mb": 512}},
		{"limits": map[string]any{"pids": 64}},
		{"policy": map[string]any{"max_pids": 1000}},
	} {
		if r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", req); r.status != 400 || r.errCode(t) != "invalid_config" {
			t.Errorf("%v over the caps: %d %s", req, r.status, r.body)
		}
	}
}

// TestUnixSocketPrivateFromBind: the socket is 0600 from the moment it
// exists, not only once chmodded: between the two, another local user
// could connect and keep the connection.
func TestUnixSocketPrivateFromBind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.sock")
	var mode os.FileMode
	afterBind = func(p string) {
		if fi, err := os.Stat(p); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	defer func() { afterBind = nil }()
	ln, err := Listen("unix://"+path, false)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if mode != 0o600 {
		t.Errorf("socket mode right after bind %v, want 0600", mode)
	}
}

// TestInternalErrorsStayInTheLog: a 500 tells the client only that it
// happened; the detail (here the work root's path) goes to the log.
func TestInternalErrorsStayInTheLog(t *testing.T) {
	ts, logBuf := startWithoutWorkRoot(t)
	r := do(t, ts.client, "POST", ts.base+"/v1/sandboxes", map[string]any{})
	if r.status != 500 || r.errCode(t) != "internal" {
		t.Fatalf("create without a work root: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), ts.work) {
		t.Errorf("the response names a host path: %s", r.body)
	}
	if !strings.Contains(logBuf.String(), ts.work) {
		t.Errorf("the log lacks the detail: %q", logBuf.String())
	}
}

// startWithoutWorkRoot starts a server logging into the returned buffer,
// then removes its work root, so that creating a sandbox fails with an
// internal error that names a host path.
func startWithoutWorkRoot(t *testing.T) (*testServer, *syncBuffer) {
	t.Helper()
	logBuf := &syncBuffer{}
	ts := startServer(t, Options{Logger: slog.New(slog.NewTextHandler(logBuf, nil))})
	if err := os.RemoveAll(ts.work); err != nil {
		t.Fatal(err)
	}
	return ts, logBuf
}

// syncBuffer is safe for the goroutines that write a command's output.
type syncBuffer = kavachtest.SyncBuffer

// TestDestroyDuringRequestLeavesNoWorkdir: what a request still in flight
// when its sandbox is destroyed leaves in the workdir (an upload racing
// release's removal) is removed when that request ends.
func TestDestroyDuringRequestLeavesNoWorkdir(t *testing.T) {
	ts := startServer(t, Options{})
	id := ts.create(t, map[string]any{})
	e, _ := ts.srv.reg.lookup("uid:"+strconv.Itoa(os.Getuid()), id)
	if e == nil {
		t.Fatal("no entry for the new sandbox")
	}
	end, ok := e.begin()
	if !ok {
		t.Fatal("begin refused on a live sandbox")
	}
	if err := ts.srv.reg.destroy(t.Context(), e, "test"); err != nil {
		t.Fatal(err)
	}
	// What the racing upload left after release's RemoveAll.
	if err := os.MkdirAll(e.workdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.workdir, "late"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	end()
	if _, err := os.Stat(e.workdir); !os.IsNotExist(err) {
		t.Errorf("workdir %s left behind after the last request: %v", e.workdir, err)
	}
}
