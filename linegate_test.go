package kavach

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/scan"
)

// TestLineGateSplitWrites checks that the gate scans whole lines however
// the output is cut into writes: a first write without a newline (which
// starts building the scanners in the background) is held back and
// scanned once its line is complete, and a last line without a newline is
// released by close.
func TestLineGateSplitWrites(t *testing.T) {
	// Secret-looking values are assembled at run time so that the
	// repository itself holds none.
	awsKey := "AKIA" + "QZ3KX7M4N2P5R6T8"
	for _, tc := range []struct {
		name     string
		writes   []string
		want     string // released output; "[R]" stands for a redaction
		withheld bool
	}{
		{"whole lines", []string{"ok\n", "two\n"}, "ok\ntwo\n", false},
		{"line split across writes", []string{"o", "k\nmail alice.smith@", "corp-mail.net\n"}, "ok\nmail [R]\n", false},
		{"last line without newline", []string{"one\nmail alice.smith@corp-mail.net"}, "one\nmail [R]", false},
		{"secret split across writes", []string{"ok\nkey AKIA", awsKey[4:] + "\nafter\n"}, "ok\n", true},
		{"no output", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			g := newLineGate(scan.DefaultGatePolicy(), &out, 1<<20, func(b []byte) []byte { return b })
			for _, w := range tc.writes {
				if n, err := g.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			g.close()
			got := out.String()
			if i := strings.Index(got, "[REDACTED:"); i >= 0 {
				if j := strings.Index(got[i:], "]"); j >= 0 {
					got = got[:i] + "[R]" + got[i+j+1:]
				}
			}
			if got != tc.want || g.withheld() != tc.withheld {
				t.Errorf("released %q (withheld %v), want %q (withheld %v)", out.String(), g.withheld(), tc.want, tc.withheld)
			}
			if raw := strings.Join(tc.writes, ""); string(g.raw.Bytes()) != raw {
				t.Errorf("raw copy %q, want %q", g.raw.Bytes(), raw)
			}
		})
	}
}
