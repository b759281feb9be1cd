package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/audit"
)

// auditFixture writes a log of five records with its key file.
func auditFixture(t *testing.T) (logFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "audit.jsonl")
	keyFile = filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("cli test key"), 0o600); err != nil {
		t.Fatal(err)
	}
	appendAudit(t, logFile, "i", 4)
	return logFile, keyFile
}

// appendAudit appends n exec records {field: 0..n-1} to the log with the
// fixture's key, through a writer that updates the checkpoint.
func appendAudit(t *testing.T, logFile, field string, n int) {
	t.Helper()
	w, err := audit.Open(context.Background(), logFile, []byte("cli test key"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := w.Append(context.Background(), "exec", map[string]int{field: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyCmd(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(t *testing.T, log, key string)
		args       func(log, key string) []string
		code       int
		stdout     string
		stderrPart string
	}{
		{"intact", nil, nil, 0, "intact: 5 records, last serial 4, checkpoint covers 5\n", ""},
		{"altered payload", func(t *testing.T, log, _ string) {
			b, _ := os.ReadFile(log)
			os.WriteFile(log, bytes.Replace(b, []byte(`{"i":2}`), []byte(`{"i":9}`), 1), 0o600)
		}, nil, 1, "TAMPERED: first bad serial 3 (line 4): HMAC mismatch", "kavach: audit chain broken at serial 3 (line 4): HMAC mismatch"},
		{"tail cut", func(t *testing.T, log, _ string) {
			b, _ := os.ReadFile(log)
			lines := bytes.SplitAfter(b, []byte("\n"))
			os.WriteFile(log, bytes.Join(lines[:3], nil), 0o600)
		}, nil, 1, "TAMPERED: first bad serial 3 (line 4): truncated", "truncated"},
		{"no checkpoint warns", func(t *testing.T, log, _ string) { os.Remove(log + audit.CheckpointSuffix) }, nil, 0,
			"intact: 5 records, last serial 4\nwarning: no checkpoint", ""},
		{"no checkpoint, required", func(t *testing.T, log, _ string) { os.Remove(log + audit.CheckpointSuffix) },
			func(log, key string) []string {
				return []string{"audit", "verify", log, "--key-file", key, "--require-checkpoint"}
			}, 1, "NOT VERIFIED: 5 records verified, but no checkpoint", "kavach: audit chain broken at serial 0: no checkpoint"},
		{"tail cut with the checkpoint, required", func(t *testing.T, log, _ string) {
			b, _ := os.ReadFile(log)
			lines := bytes.SplitAfter(b, []byte("\n"))
			os.WriteFile(log, bytes.Join(lines[:3], nil), 0o600)
			os.Remove(log + audit.CheckpointSuffix)
		}, func(log, key string) []string {
			return []string{"audit", "verify", log, "--key-file", key, "--require-checkpoint"}
		}, 1, "NOT VERIFIED: 3 records verified, but no checkpoint", ""},
		{"checkpoint behind the log, required", func(t *testing.T, log, key string) {
			// A checkpoint from before the last two records, as a writer
			// that stopped between appending and updating it leaves.
			old, _ := os.ReadFile(log + audit.CheckpointSuffix)
			appendAudit(t, log, "j", 2)
			os.WriteFile(log+audit.CheckpointSuffix, old, 0o600)
		}, func(log, key string) []string {
			return []string{"audit", "verify", log, "--key-file", key, "--require-checkpoint"}
		}, 1, "NOT VERIFIED: 7 records verified, but the checkpoint vouches for 5 of 7 records", ""},
		{"intact, required", nil, func(log, key string) []string {
			return []string{"audit", "verify", log, "--key-file", key, "--require-checkpoint"}
		}, 0, "intact: 5 records, last serial 4, checkpoint covers 5\n", ""},
		{"loose key file warns", func(t *testing.T, _, key string) { os.Chmod(key, 0o644) }, nil, 0, "intact: 5 records", "kavach: warning: key file"},
		{"wrong key", func(t *testing.T, _, key string) { os.WriteFile(key, []byte("other"), 0o600) }, nil, 1, "TAMPERED: first bad serial 0", ""},
		{"missing log", func(t *testing.T, log, _ string) { os.Remove(log) }, nil, 125, "", "kavach: verify audit log"},
		{"missing key file", nil, func(log, _ string) []string {
			return []string{"audit", "verify", log, "--key-file", "/nonexistent/key"}
		}, 125, "", "kavach: load audit key"},
		{"key flag required", nil, func(log, _ string) []string { return []string{"audit", "verify", log} }, 125, "", `required flag(s) "key-file" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, key := auditFixture(t)
			if tt.mutate != nil {
				tt.mutate(t, log, key)
			}
			args := []string{"audit", "verify", log, "--key-file", key}
			if tt.args != nil {
				args = tt.args(log, key)
			}
			code, out, stderr := run(t, "", args...)
			if code != tt.code || !strings.HasPrefix(out, tt.stdout) || !strings.Contains(stderr, tt.stderrPart) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, stderr, tt.code, tt.stdout, tt.stderrPart)
			}
			if strings.Contains(out+stderr, "cli test key") {
				t.Fatal("the key was printed")
			}
		})
	}
}

func TestAuditVerifyJSON(t *testing.T) {
	log, key := auditFixture(t)
	b, _ := os.ReadFile(log)
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[1], lines[2] = lines[2], lines[1]
	os.WriteFile(log, bytes.Join(lines, nil), 0o600)
	code, out, _ := run(t, "", "audit", "verify", log, "--key-file", key, "--json")
	var v struct {
		Intact         bool    `json:"intact"`
		Records        uint64  `json:"records"`
		FirstBadSerial *uint64 `json:"first_bad_serial"`
		Reason         string  `json:"reason"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if code != 1 || v.Intact || v.Records != 1 || v.FirstBadSerial == nil || *v.FirstBadSerial != 1 || !strings.Contains(v.Reason, "serial gap") {
		t.Fatalf("exit %d, %+v", code, v)
	}
	os.WriteFile(log, b, 0o600)
	code, out, _ = run(t, "", "audit", "verify", log, "--key-file", key, "--json")
	if code != 0 || !strings.Contains(out, `"intact": true`) || !strings.Contains(out, `"records": 5`) || strings.Contains(out, "first_bad_serial") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
