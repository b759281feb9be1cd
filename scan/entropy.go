package scan

import "encoding/binary"

// The entropy detector's thresholds. A token is a maximal run of
// [A-Za-z0-9+/=_-]. It is reported when it is between entropyMinLen and
// entropyMaxLen bytes long (trailing '=' padding not counted), has more
// than entropyBits bits of Shannon entropy per byte (the original's
// threshold; in practice only tokens of 23 bytes or more can reach it),
// holds an upper-case letter, a lower-case letter and a digit, has fewer
// than three '/' (more is a path), and is no placeholder. Hex digests and
// UUIDs top out at 4 bits per byte and so are never reported; longer runs
// are encoded blobs (images, archives), not keys.
const (
	entropyMinLen = 20
	entropyMaxLen = 256
	entropyBits   = 4.5
)

// entropyPass reports high-entropy tokens (severity Low).
//
// A token of entropyMinLen bytes or more covers at least one whole block of
// eight bytes with no byte below '!' (space, newline, control), so the pass
// skips every block that has one, eight bytes at a time, and looks closely
// only around the others. Most blocks of text and logs hold a space.
func entropyPass(b []byte, emit func(Finding)) {
	const ones, hi = 0x0101010101010101, 0x8080808080808080
	n := len(b)
	tok := func(c byte) bool { return classes[c]&clsToken != 0 }
	lastEnd := 0 // tokens ending at or before lastEnd were looked at
	i := 0
	for i < n {
		if i+8 <= n {
			x := binary.LittleEndian.Uint64(b[i:])
			if (x-ones*0x21)&^x&hi != 0 {
				i += 8
				continue
			}
		}
		// Look at every token that touches [i, i+8).
		p := i
		for p > lastEnd && tok(b[p-1]) {
			p--
		}
		for p < min(i+8, n) {
			if !tok(b[p]) {
				p++
				continue
			}
			e := p + 1
			for e < n && tok(b[e]) {
				e++
			}
			if p >= lastEnd && e-p >= entropyMinLen && highEntropy(b[p:e]) {
				emit(Finding{
					Scanner: "secrets", RuleID: "high-entropy", Category: "high_entropy",
					Severity: Low, Message: "high-entropy string detected", Start: p, End: e,
				})
			}
			lastEnd = max(lastEnd, e)
			p = e
		}
		i = max(i+8, p)
	}
}

// highEntropy applies the thresholds above to one token.
func highEntropy(t []byte) bool {
	for len(t) > 0 && t[len(t)-1] == '=' {
		t = t[:len(t)-1]
	}
	if len(t) < entropyMinLen || len(t) > entropyMaxLen {
		return false
	}
	var up, low, dig bool
	slashes := 0
	for _, c := range t {
		k := classes[c]
		up = up || k&clsUpper != 0
		low = low || k&clsLower != 0
		dig = dig || k&clsDigit != 0
		if c == '/' {
			slashes++
		}
	}
	if !up || !low || !dig || slashes >= 3 {
		return false
	}
	return shannon(t) > entropyBits && !isPlaceholder(t)
}
