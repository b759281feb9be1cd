// Package scancorpus generates text for the scanners' tests and benchmarks:
// clean program output with no secret in it, and labelled positives built
// at run time from random parts, so that no string that looks like a live
// credential is ever committed.
package scancorpus

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// words is the vocabulary of clean text: log lines, prose and code.
var words = []string{
	"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "server", "started",
	"listening", "on", "port", "request", "handled", "in", "ms", "user", "logged", "config",
	"loaded", "from", "file", "error:", "could", "not", "open", "directory", "INFO", "DEBUG",
	"WARN", "function", "return", "value", "=", "{", "}", "if", "err", "!=", "nil", "for",
	"range", "items", "build", "succeeded", "tests", "passed", "package", "main", "import",
	"fmt", "compiling", "linking", "target", "release", "cache", "hit", "miss", "connection",
	"closed", "by", "peer", "retrying", "after", "backoff", "worker", "pool", "size", "queue",
	"depth", "status", "ok", "done", "elapsed", "total", "bytes", "written", "read", "token",
	"parser", "expected", "identifier", "found", "end", "of", "input", "line", "column",
	"warning:", "unused", "variable", "deprecated", "call", "use", "instead", "Amount", "mounted",
	"password", "reset", "link", "sent", "secret", "management", "is", "important", "key",
	"rotation", "scheduled", "data", "and", "the", "with", "this", "that", "was", "for",
}

// Clean returns about n bytes of clean text: words, numbers that are no
// identifiers, paths and timestamps, about ten words a line.
func Clean(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6b617661))
	var b bytes.Buffer
	b.Grow(n + 256)
	for b.Len() < n {
		switch x := r.IntN(40); {
		case x == 0:
			fmt.Fprintf(&b, "2026-%02d-%02dT%02d:%02d:%02dZ", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
		case x == 1:
			fmt.Fprintf(&b, "%d", r.IntN(100000))
		case x == 2:
			fmt.Fprintf(&b, "./src/%s/%s.go:%d", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(900))
		case x == 3:
			fmt.Fprintf(&b, "%d.%d%%", r.IntN(100), r.IntN(10))
		default:
			b.WriteString(words[r.IntN(len(words))])
		}
		if r.IntN(10) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}
