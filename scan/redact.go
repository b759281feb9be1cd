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
// Redaction is idempotent: the scanners never report a match that touches a
// redaction marker, so scanning and redacting the result again changes
// nothing.
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

// redactionMarkers returns the spans of the "[REDACTED:…]" markers in b.
func redactionMarkers(b []byte) [][2]int {
	var ms [][2]int
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte(redactPrefix))
		if i < 0 {
			return ms
		}
		s := off + i
		e := s + len(redactPrefix)
		for e < len(b) && (isAlnum(b[e]) || b[e] == '_') {
			e++
		}
		if e < len(b) && b[e] == ']' {
			e++
		}
		ms = append(ms, [2]int{s, e})
		off = e
	}
}

// overlapsAny reports whether [s, e) overlaps or touches one of the spans.
// Touching counts, because a token that ends right at a marker may have
// been cut by it.
func overlapsAny(s, e int, spans [][2]int) bool {
	for _, m := range spans {
		if s <= m[1] && m[0] <= e {
			return true
		}
	}
	return false
}
