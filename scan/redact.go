package scan

import (
	"bytes"
	"slices"
)

// redactPrefix starts every replacement Redact writes.
const redactPrefix = "[REDACTED:"

// Redact returns a copy of b in which the span of every finding is replaced
// by "[REDACTED:<category>]". Overlapping spans are merged and take the
// category of the finding that starts first (the longer one on a tie).
// Spans out of range are clipped. b is returned unchanged (not copied) when
// there is nothing to redact.
//
// Redact replaces only the spans it is given; RedactAll also redacts what
// the replacement itself uncovers.
func Redact(b []byte, findings []Finding) []byte {
	spans := make([]Finding, 0, len(findings))
	for _, f := range findings {
		s, e := max(f.Start, 0), min(f.End, len(b))
		if s < e {
			f.Start, f.End = s, e
			spans = append(spans, f)
		}
	}
	if len(spans) == 0 {
		return b
	}
	slices.SortStableFunc(spans, func(x, y Finding) int {
		if x.Start != y.Start {
			return x.Start - y.Start
		}
		return y.End - x.End
	})
	var out bytes.Buffer
	out.Grow(len(b))
	pos := 0
	for i := 0; i < len(spans); {
		s, e, cat := spans[i].Start, spans[i].End, spans[i].Category
		i++
		for i < len(spans) && spans[i].Start < e {
			e = max(e, spans[i].End)
			i++
		}
		if s < pos {
			s = pos
		}
		out.Write(b[pos:s])
		out.WriteString(redactPrefix)
		out.WriteString(cat)
		out.WriteByte(']')
		pos = e
	}
	out.Write(b[pos:])
	return out.Bytes()
}

// RedactAll redacts every finding of s in b and repeats on the result
// until s finds nothing new (at most maxRedactRounds times): replacing a
// span changes its neighbours' context, and a number that ran on into a
// secret may stand alone once the secret is gone. The result is a fixed
// point, so RedactAll(RedactAll(b)) == RedactAll(b), which the fuzz test
// checks. b is returned unchanged when s finds nothing.
func RedactAll(b []byte, s Scanner) []byte {
	return redactFrom(b, s.Scan(b), s)
}

// maxRedactRounds bounds RedactAll; every round replaces at least one span
// with a marker, and real output settles in one or two.
const maxRedactRounds = 16

// redactFrom redacts findings, already computed for b, and goes on as
// RedactAll.
func redactFrom(b []byte, findings []Finding, s Scanner) []byte {
	out := b
	for range maxRedactRounds {
		if len(findings) == 0 {
			return out
		}
		next := Redact(out, findings)
		if bytes.Equal(next, out) {
			return out
		}
		out = next
		findings = s.Scan(out)
	}
	return out
}
