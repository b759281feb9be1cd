package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestScanExitCodes(t *testing.T) {
	tests := []struct {
		name, stdin string
		code        int
		verdict     string
	}{
		{"clean", "build ok\n", 0, "Pass"},
		{"warn", "mail bob@corp.io\n", 1, "Warn"},
		{"quarantine", "chmod 4755 /tmp/x\n", 2, "Quarantine"},
		{"block", "ssn 123-45-" + "6789\n", 3, "Block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.stdin, "scan", "--json")
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errs)
			}
			var rep struct {
				Verdict  string `json:"verdict"`
				Findings []struct {
					Scanner, Rule, Category, Severity, Evidence string
					Start, End                                  int
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("json: %v\n%s", err, out)
			}
			if rep.Verdict != tt.verdict {
				t.Fatalf("verdict %q, want %q", rep.Verdict, tt.verdict)
			}
			for _, f := range rep.Findings {
				if f.Start < 0 || f.End > len(tt.stdin) || f.Rule == "" || f.Scanner == "" {
					t.Errorf("bad finding %+v", f)
				}
			}
			if tt.code != 0 && len(rep.Findings) == 0 {
				t.Fatal("no findings")
			}
		})
	}
}

func TestScanFileAndText(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, []byte("x\nrm -rf /srv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "", "scan", p)
	if code != 3 || !strings.Contains(out, "code/destructive-operation") || !strings.Contains(out, "verdict: block") {
		t.Fatalf("exit %d, out %q", code, out)
	}
	code, _, errs := run(t, "", "scan", filepath.Join(t.TempDir(), "missing"))
	if code != 125 || !strings.HasPrefix(errs, "kavach: read input:") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errs)
	}
}

// TestScanFileMatchesStdin checks that a regular file, which is mapped and
// scanned in place, reports what the same bytes on stdin (streamed through
// copied windows) report, on an input of several windows with findings
// in each; and that a FIFO, which cannot be mapped, is
// streamed.
func TestScanFileMatchesStdin(t *testing.T) {
	var b strings.Builder
	for b.Len() < 9<<20 {
		b.WriteString("build ok, 12 tests passed in 0.3s; mail bob@corp.io\n")
		if b.Len()%(1<<20) < 60 {
			b.WriteString("ssn 123-45-" + "6789\n")
		}
	}
	in := b.String()
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	codeIn, outIn, errIn := run(t, in, "scan", "--json", "-")
	codeF, outF, errF := run(t, "", "scan", "--json", p)
	if codeIn != 3 || codeF != 3 || errIn != "" || errF != "" {
		t.Fatalf("exit stdin %d file %d; stderr %q %q", codeIn, codeF, errIn, errF)
	}
	if outIn != outF {
		t.Fatalf("file and stdin reports differ (%d and %d bytes)", len(outF), len(outIn))
	}
	if n := strings.Count(outF, `"rule": "us-ssn"`); n < 9 {
		t.Fatalf("%d SSN findings, want one per MiB", n)
	}

	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(in)
	}()
	codeP, outP, errP := run(t, "", "scan", "--json", fifo)
	if codeP != 3 || outP != outIn {
		t.Fatalf("fifo: exit %d, stderr %q, report same as stdin: %v", codeP, errP, outP == outIn)
	}
}

// TestScanFilePageMultiple scans a file whose size is a multiple of the
// page size: the mapping ends where the file does, so any read past the
// input would fault and fail the scan.
func TestScanFilePageMultiple(t *testing.T) {
	line := "build ok, 12 tests passed in 0.3s; see ./src/main.go:42 for $HOME\n"
	b := []byte(strings.Repeat(line, 4*os.Getpagesize()))[:4*os.Getpagesize()]
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	codeF, outF, errF := run(t, "", "scan", "--json", p)
	codeIn, outIn, _ := run(t, string(b), "scan", "--json", "-")
	if codeF != codeIn || outF != outIn || errF != "" {
		t.Fatalf("file: exit %d, stderr %q; stdin: exit %d; same report: %v", codeF, errF, codeIn, outF == outIn)
	}
}
