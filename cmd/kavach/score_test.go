package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScoreCmd(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"score", "-b", "process", "-p", "strict"}, "65 (standard)\n"},
		{[]string{"score", "-b", "firecracker", "-p", "strict"}, "100 (fortress)\n"},
		{[]string{"score", "-b", "process"}, "60 (standard)\n"},
		{[]string{"score", "-b", "SyAgnos", "-p", "minimal"}, "85 (fortress)\n"},
		{[]string{"score", "-b", "noop", "-p", "basic", "--no-network"}, "10 (minimal)\n"},
		{[]string{"score", "-b", "gvisor", "-p", "strict", "--network"}, "80 (hardened)\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			code, out, stderr := run(t, "", tc.args...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, stderr, tc.want)
			}
		})
	}
}

func TestScoreReasonsAndJSON(t *testing.T) {
	code, out, _ := run(t, "", "score", "-b", "process", "-p", "strict", "--reasons")
	if code != 0 || !strings.Contains(out, "  +5 seccomp requested (strict)\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "", "score", "-b", "process", "-p", "strict", "--json")
	var v struct {
		Backend  string   `json:"backend"`
		Value    int      `json:"value"`
		Label    string   `json:"label"`
		Reasons  []string `json:"reasons"`
		Enforced bool     `json:"enforced"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if v.Backend != "process" || v.Value != 65 || v.Label != "standard" || len(v.Reasons) != 5 || v.Enforced {
		t.Fatalf("got %+v", v)
	}
}

func TestScoreEnforced(t *testing.T) {
	code, out, stderr := run(t, "", "score", "-b", "noop", "-p", "strict", "--enforced")
	if code != 0 || !strings.HasPrefix(out, "0 (minimal)\n  0 base (noop)\n") || !strings.Contains(out, "never enforced by noop") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, _, stderr = run(t, "", "score", "-b", "tdx", "--enforced")
	if code != 125 || !strings.Contains(stderr, "backend not available: tdx") {
		t.Fatalf("tdx: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "", "score", "-b", "auto")
	if code != 125 || !strings.Contains(stderr, "needs --enforced") {
		t.Fatalf("auto: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "", "score", "-b", "nonsense")
	if code != 125 || !strings.Contains(stderr, "unknown backend") {
		t.Fatalf("nonsense: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "", "score", "--network", "--no-network")
	if code != 125 {
		t.Fatalf("--network --no-network: exit %d, stderr %q", code, stderr)
	}
}
