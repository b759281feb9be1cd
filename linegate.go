package kavach

import (
	"bytes"
	"io"
	"sync"

	"github.com/kavach-go/kavach/scan"
)

// maxGateLine bounds how much output the streaming gate holds back while
// waiting for a newline.
const maxGateLine = 64 << 10

// lineGate sits between a streaming command and its reader. It releases
// output a line at a time, after scanning the line: clean lines pass,
// lines with low findings are redacted (when the policy redacts), and the
// first line that would quarantine or block stops the stream — nothing
// after it is released. A bounded raw copy is kept so that the whole
// output can be scanned (and quarantined) once the command ends; that
// scan is authoritative, the line scan only decides what is released.
type lineGate struct {
	policy scan.GatePolicy
	out    io.Writer      // the caller's stream
	raw    *boundedBuffer // what the command really wrote (bounded)
	redact func([]byte) []byte

	mu      sync.Mutex
	pending []byte // guarded by mu; held back until a newline
	stopped bool   // guarded by mu; a line quarantined or blocked
	warming bool   // guarded by mu; the scanners are being built
}

func newLineGate(p scan.GatePolicy, out io.Writer, limit int, redact func([]byte) []byte) *lineGate {
	return &lineGate{policy: p, out: out, raw: &boundedBuffer{limit: limit}, redact: redact}
}

func (g *lineGate) Write(p []byte) (int, error) {
	_, _ = g.raw.Write(p)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return len(p), nil
	}
	g.pending = append(g.pending, p...)
	for !g.stopped {
		n := bytes.IndexByte(g.pending, '\n') + 1
		if n == 0 {
			if len(g.pending) < maxGateLine {
				if len(g.pending) > 0 && g.policy.Enabled {
					g.warm()
				}
				return len(p), nil
			}
			n = maxGateLine
		}
		chunk := g.pending[:n]
		g.pending = g.pending[n:]
		g.release(chunk)
	}
	return len(p), nil
}

// warm starts building the scanners in the background when output has
// arrived but no whole line yet, so that the build overlaps with the rest
// of the line arriving. Nothing builds them before the first byte of
// output: a command that prints nothing never pays for them, and release
// builds them itself when a whole line comes first.
func (g *lineGate) warm() {
	if !g.warming {
		g.warming = true
		go scan.All()
	}
}

// release scans one chunk and writes what may leave.
func (g *lineGate) release(chunk []byte) {
	chunk = g.redact(chunk)
	if !g.policy.Enabled {
		// Only the injected credentials are taken out.
		_, _ = g.out.Write(chunk)
		return
	}
	findings := scan.All().Scan(chunk)
	worst := scan.Info
	for _, f := range findings {
		worst = max(worst, f.Severity)
	}
	switch g.policy.Decide(worst, len(findings)) {
	case scan.Pass:
		_, _ = g.out.Write(chunk)
	case scan.Warn:
		if g.policy.RedactSecrets {
			chunk = scan.Redact(chunk, findings)
		}
		_, _ = g.out.Write(chunk)
	default:
		g.stopped = true
		g.pending = nil
	}
}

// close releases a final line without newline.
func (g *lineGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped && len(g.pending) > 0 {
		g.release(g.pending)
	}
	g.pending = nil
}

// withheld reports whether the gate stopped the stream.
func (g *lineGate) withheld() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}
