package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/quarantine"
)

func TestQuarantineCmd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	s, err := quarantine.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	held, _ := s.Put(ctx, []byte("AKIA secret output\n"), map[string]string{"verdict": "quarantine", "worst_severity": "high", "sandbox_id": "sbx-3"})
	other, _ := s.Put(ctx, []byte("other"), nil)

	code, out, stderr := run(t, "", "quarantine", "list", "--dir", dir)
	if code != 0 || !strings.Contains(out, held+"  Quarantined") || !strings.Contains(out, "sbx-3") || !strings.Contains(out, other) {
		t.Fatalf("list: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = run(t, "", "quarantine", "list", "--dir", dir, "--json")
	var items []quarantine.Metadata
	if err := json.Unmarshal([]byte(out), &items); code != 0 || err != nil || len(items) != 2 {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, out)
	}
	code, out, _ = run(t, "", "quarantine", "show", held, "--dir", dir)
	if code != 0 || !strings.Contains(out, "status:         Quarantined") || strings.Contains(out, "AKIA") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}

	steps := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"release", held}, 1, "", "is Quarantined: cannot become Released (allowed: Approved, Rejected)"},
		{[]string{"approve", held, "--by", "alice"}, 0, held + " Approved\n", ""},
		{[]string{"reject", held}, 1, "", "cannot become Rejected (allowed: Released)"},
		{[]string{"release", held, "--by", "bob"}, 0, "AKIA secret output\n", ""},
		{[]string{"release", held}, 1, "", "is Released: cannot become Released (allowed: none, it is final)"},
		{[]string{"reject", other}, 0, other + " Rejected\n", ""},
		{[]string{"approve", other}, 1, "", "is Rejected"},
		{[]string{"show", "00000000-0000-4000-8000-000000000000"}, 1, "", "not found"},
		{[]string{"approve", "../../etc"}, 125, "", "invalid quarantine id"},
		{[]string{"show"}, 125, "", "accepts 1 arg"},
	}
	for _, st := range steps {
		t.Run(strings.Join(st.args, " "), func(t *testing.T) {
			args := append([]string{"quarantine"}, st.args...)
			args = append(args, "--dir", dir)
			code, out, stderr := run(t, "", args...)
			if code != st.code || out != st.stdout || !strings.Contains(stderr, st.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, stderr, st.code, st.stdout, st.stderr)
			}
		})
	}
	m, _ := s.Get(ctx, held)
	if m.Status != quarantine.Released || *m.ApprovedBy != "alice" || *m.ReleasedBy != "bob" {
		t.Fatalf("metadata %+v", m)
	}
}

func TestQuarantineReleaseToFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	s, _ := quarantine.New(dir)
	ctx := context.Background()
	id, _ := s.Put(ctx, []byte("bytes"), nil)
	s.Approve(ctx, id, "x")
	outFile := filepath.Join(t.TempDir(), "out.bin")
	code, out, stderr := run(t, "", "quarantine", "release", id, "-o", outFile, "--dir", dir)
	b, _ := os.ReadFile(outFile)
	fi, _ := os.Stat(outFile)
	if code != 0 || out != "" || string(b) != "bytes" || fi.Mode().Perm() != 0o600 || !strings.Contains(stderr, "released "+id) {
		t.Fatalf("exit %d, stdout %q, stderr %q, file %q", code, out, stderr, b)
	}
	// An existing output file is not overwritten, and the item is not spent.
	id2, _ := s.Put(ctx, []byte("more"), nil)
	s.Approve(ctx, id2, "x")
	code, _, _ = run(t, "", "quarantine", "release", id2, "-o", outFile, "--dir", dir)
	if m, _ := s.Get(ctx, id2); code != 125 || m.Status != quarantine.Approved {
		t.Fatalf("exit %d, status %s", code, m.Status)
	}
}

func TestQuarantineDefaultDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	code, out, stderr := run(t, "", "quarantine", "list")
	if code != 0 || !strings.HasPrefix(out, "ID") {
		t.Fatalf("exit %d, %q, %q", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("XDG_DATA_HOME"), "kavach", "quarantine")); err != nil {
		t.Fatal(err)
	}
}
