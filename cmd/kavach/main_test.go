package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/backend"
)

func TestMain(m *testing.M) {
	kavach.Init()
	// Keep quarantined output of the tests out of the real home.
	dir, err := os.MkdirTemp("", "kavach-cli-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	if builtBin != "" {
		// The kavach binary built once for the serve tests.
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		stderrs string
	}{
		{"noop true", []string{"run", "-b", "noop", "--", "true"}, 0, ""},
		{"unknown backend", []string{"run", "-b", "nonsense", "--", "true"}, 125, `kavach: unknown backend: "nonsense"`},
		{"unknown policy", []string{"run", "-b", "noop", "-p", "paranoid", "--", "true"}, 125, "kavach: unknown policy: paranoid (use minimal, basic, strict)"},
		{"missing policy file", []string{"run", "-b", "noop", "-p", "/nonexistent/p.json", "--", "true"}, 125, "kavach: load policy"},
		{"unavailable backend", []string{"run", "-b", "tdx", "--", "true"}, 125, "kavach: create sandbox: backend not available: tdx: not implemented"},
		{"no command", []string{"run", "-b", "noop"}, 125, "kavach: requires at least 1 arg"},
		{"bad flag", []string{"run", "--frobnicate", "--", "true"}, 125, "kavach: unknown flag: --frobnicate"},
		{"bad memory", []string{"run", "-b", "noop", "--memory", "lots", "--", "true"}, 125, "kavach: --memory: size \"lots\""},
		{"bad mount", []string{"run", "-b", "noop", "--mount", "/etc", "--", "true"}, 125, "kavach: --mount \"/etc\": want SRC:DST[:ro|rw]"},
		{"bad timeout", []string{"run", "-b", "noop", "--timeout", "-1s", "--", "true"}, 125, "kavach: --timeout"},
		{"proxy needs process", []string{"run", "-b", "noop", "--allow-host", "example.com", "--", "true"}, 125, "kavach: start sandbox"},
		{"network and allow-host", []string{"run", "-b", "noop", "--network", "--allow-host", "example.com", "--", "true"}, 125, "kavach: --network gives"},
		{"header without egress", []string{"run", "-b", "noop", "--secret-header", "a.example:X-Key=env:HOME", "--", "true"}, 125, "kavach: start sandbox"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.HasPrefix(stderr, tc.stderrs) {
				t.Errorf("stderr %q, want prefix %q", stderr, tc.stderrs)
			}
			if strings.Count(stderr, "\n") > 1 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestRunJSONNoop(t *testing.T) {
	code, out, stderr := run(t, "", "run", "-b", "noop", "--json", "--", "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"exit_code", "stdout", "stderr", "termination", "duration_ns", "enforced", "score", "kavach_exit_code"} {
		if _, ok := v[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
}

func TestBackendsJSON(t *testing.T) {
	code, out, stderr := run(t, "", "backends", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []struct {
		Name      string `json:"name"`
		Available *bool  `json:"available"`
		Reason    string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(backend.All()) {
		t.Fatalf("%d rows, want %d", len(rows), len(backend.All()))
	}
	for i, k := range backend.All() {
		r := rows[i]
		if r.Name != k.String() || r.Available == nil || r.Reason == "" {
			t.Errorf("row %d = %+v", i, r)
		}
		if k == backend.Noop && !*r.Available {
			t.Errorf("noop unavailable: %+v", r)
		}
	}
	code, out, _ = run(t, "", "backends")
	if code != 0 || !strings.Contains(out, "BACKEND") || !strings.Contains(out, "sy-agnos") {
		t.Errorf("table: %d %q", code, out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "kavach ") {
		t.Errorf("%d %q", code, out)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "64K": 64 << 10, "512M": 512 << 20, "2g": 2 << 30, "1GiB": 1 << 30, "1.5M": 3 << 19, "10MB": 10 << 20} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "12Q", "1e30G"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	m, err := parseMount(dir + ":/data:rw")
	if err != nil || m.Source != dir || m.Target != "/data" || m.ReadOnly {
		t.Errorf("%+v %v", m, err)
	}
	m, err = parseMount(dir + ":/data")
	if err != nil || !m.ReadOnly {
		t.Errorf("default must be read-only: %+v %v", m, err)
	}
	for _, bad := range []string{dir + ":data", dir + ":/d:rx", "/nonexistent:/d", ":/d", dir + ":/a:rw:x"} {
		if _, err := parseMount(bad); err == nil {
			t.Errorf("parseMount(%q) accepted", bad)
		}
	}
}

func TestRunAuditLog(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "audit.jsonl")
	code, _, stderr := run(t, "", "run", "-b", "noop", "--audit-log", logFile, "--audit-key-file", keyFile, "--agent-id", "a1", "--", "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`"genesis"`, `"sandbox.create"`, `"sandbox.start"`, `"exec"`, `"sandbox.destroy"`} {
		if !strings.Contains(string(b), ev) {
			t.Errorf("audit log lacks %s", ev)
		}
	}
	key, _ := audit.LoadKey(keyFile)
	if _, err := audit.Verify(t.Context(), logFile, key); err != nil {
		t.Errorf("verify: %v", err)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("a 0600 key file drew a warning: %q", stderr)
	}
	code, _, stderr = run(t, "", "run", "-b", "noop", "--audit-log", logFile, "--", "true")
	if code != 125 || !strings.Contains(stderr, "--audit-key-file") {
		t.Errorf("log without key: %d %q", code, stderr)
	}
	// A key others can read still works, with a warning: whoever reads it
	// can rewrite the chain.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "", "run", "-b", "noop", "--audit-log", logFile, "--audit-key-file", keyFile, "--", "true")
	if code != 0 || !strings.Contains(stderr, "kavach: warning: key file") {
		t.Errorf("loose key file: exit %d, stderr %q", code, stderr)
	}
}

func TestRunSecretFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret-env", "TOKEN=literal-value"}, "kavach: "},
		{[]string{"--secret-file", "relative=env:X"}, "kavach: "},
		{[]string{"--secret-env", "T=env:KAVACH_TEST_UNSET_VAR"}, "KAVACH_TEST_UNSET_VAR"},
	} {
		code, _, stderr := run(t, "", append(append([]string{"run", "-b", "noop"}, tc.args...), "--", "true")...)
		if code != 125 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q", tc.args, code, stderr)
		}
		if strings.Contains(stderr, "literal-value") {
			t.Errorf("a rejected literal secret was echoed: %q", stderr)
		}
	}
}
