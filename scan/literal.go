package scan

import (
	"encoding/binary"
	"slices"
)

// literals finds every occurrence of a set of ASCII keywords, ignoring ASCII
// case, in one pass over the input.
//
// literals is the prefilter of every keyword rule. It is an anchored-bigram
// filter rather than an Aho-Corasick automaton: each keyword is indexed by
// the bigram inside it that is least likely in ordinary text, a bitmap of
// those 2¹⁶ folded bigrams (8 KiB, resident in L1) is tested at every
// position, and only a set bit leads to a case-folded comparison of the few
// keywords anchored on that bigram. The test at each position depends on no
// earlier position, so the loop has no carried dependency and runs several
// times faster than a DFA walk, whose every step waits for the previous
// state. The rationale and the measurements are in the package's report
// (RATIONALE: "Why not an Aho-Corasick library?").
type literals struct {
	pats   [][]byte // lower-case keywords
	bitmap [1 << 10]uint64
	// index[k]..index[k+1] is the range of flat anchored on bigram k.
	index  []uint32
	flat   []anchor
	maxLen int
}

// anchor says that keyword pat is anchored at offset off of its bigram.
type anchor struct {
	pat int
	off int
}

// fold maps ASCII upper case to lower case and leaves every other byte.
var fold = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// bigramWeight estimates how common a byte is in program output, so that
// the rarest bigram of a keyword is chosen as its anchor. The numbers are
// rough English letter frequencies (per mille); spaces are the most common
// byte, digits and punctuation are rarer than letters.
var bigramWeight = func() (w [256]float64) {
	for i := range w {
		w[i] = 5
	}
	freq := "e127t91a82o75i70n67s63h61r60d43l40c28u28m24w24f22g20y20p19b15v10k8j2x2q1z1"
	for i := 0; i < len(freq); {
		c := freq[i]
		j := i + 1
		n := 0
		for j < len(freq) && freq[j] >= '0' && freq[j] <= '9' {
			n = n*10 + int(freq[j]-'0')
			j++
		}
		w[c] = float64(n)
		i = j
	}
	w[' '] = 150
	w['\n'] = 30
	for c := '0'; c <= '9'; c++ {
		w[c] = 15
	}
	for _, c := range ".,:;\"'=()-_/" {
		w[c] = 12
	}
	return w
}()

// newLiterals indexes the keywords; each must be at least two bytes long.
func newLiterals(keywords []string) *literals {
	l := &literals{}
	byKey := make(map[uint16][]anchor)
	for i, k := range keywords {
		p := []byte(k)
		for j := range p {
			p[j] = fold[p[j]]
		}
		if len(p) < 2 {
			panic("scan: keyword shorter than two bytes: " + k)
		}
		l.pats = append(l.pats, p)
		l.maxLen = max(l.maxLen, len(p))
		best, bestW := 0, -1.0
		for j := 0; j+1 < len(p); j++ {
			w := bigramWeight[p[j]] * bigramWeight[p[j+1]]
			if bestW < 0 || w < bestW {
				best, bestW = j, w
			}
		}
		key := bigramKey(p[best], p[best+1])
		l.bitmap[key>>6] |= 1 << (key & 63)
		byKey[key] = append(byKey[key], anchor{pat: i, off: best})
	}
	l.index = make([]uint32, 1<<16+1)
	for k := range 1 << 16 {
		l.index[k] = uint32(len(l.flat))
		l.flat = append(l.flat, byKey[uint16(k)]...)
	}
	l.index[1<<16] = uint32(len(l.flat))
	return l
}

// hit is one keyword occurrence at [start, start+len(pattern)).
type hit struct {
	pat   int
	start int
}

// bigramKey is the bitmap index of the bigram (c0, c1). Setting bit 0x20
// folds ASCII letters to lower case; it also merges some punctuation pairs
// ('@' with '`', '_' with DEL), which only costs a rare extra comparison,
// and it lets the scan loop fold two bytes with one OR.
func bigramKey(c0, c1 byte) uint16 {
	return uint16(c0|0x20) | uint16(c1|0x20)<<8
}

// find appends every keyword occurrence in b to hits, ordered by start.
func (l *literals) find(b []byte, hits []hit) []hit {
	if len(b) < 2 {
		return hits
	}
	first := len(hits)
	bm := &l.bitmap
	n := len(b) - 1 // bigrams start at 0..n-1
	i := 0
	// The loop tests four positions with one branch; only when one of
	// them has its bit set does it look at them one by one.
	for ; i+4 <= n; i += 4 {
		k0 := binary.LittleEndian.Uint16(b[i:]) | 0x2020
		k1 := binary.LittleEndian.Uint16(b[i+1:]) | 0x2020
		k2 := binary.LittleEndian.Uint16(b[i+2:]) | 0x2020
		k3 := binary.LittleEndian.Uint16(b[i+3:]) | 0x2020
		if (bm[k0>>6]>>(k0&63)|bm[k1>>6]>>(k1&63)|bm[k2>>6]>>(k2&63)|bm[k3>>6]>>(k3&63))&1 == 0 {
			continue
		}
		for j := i; j < i+4; j++ {
			hits = l.verify(b, j, hits)
		}
	}
	for ; i < n; i++ {
		hits = l.verify(b, i, hits)
	}
	// Anchors sit at different offsets, so hits come out ordered by anchor
	// position; rules expect them by start.
	slices.SortStableFunc(hits[first:], func(x, y hit) int { return x.start - y.start })
	return hits
}

// verify appends the keywords anchored on the bigram at i that match.
func (l *literals) verify(b []byte, i int, hits []hit) []hit {
	k := bigramKey(b[i], b[i+1])
	if l.bitmap[k>>6]&(1<<(k&63)) == 0 {
		return hits
	}
	for _, a := range l.flat[l.index[k]:l.index[k+1]] {
		s := i - a.off
		p := l.pats[a.pat]
		if s < 0 || s+len(p) > len(b) || !equalFold(b[s:s+len(p)], p) {
			continue
		}
		hits = append(hits, hit{pat: a.pat, start: s})
	}
	return hits
}

// equalFold reports whether b equals the lower-case pattern p, ignoring
// ASCII case in b.
func equalFold(b, p []byte) bool {
	for i, c := range p {
		if fold[b[i]] != c {
			return false
		}
	}
	return true
}
