package scan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
)

// literals finds every occurrence of a set of ASCII keywords, ignoring ASCII
// case, in one pass over the input.
//
// literals is the prefilter of every keyword rule. It is an anchored
// q-gram filter rather than an Aho-Corasick automaton. Each keyword of four
// bytes or more is indexed by two 3-grams inside it, the one least likely
// in ordinary text among those at even offsets and the one among those at
// odd offsets, hashed into a bitmap of 2¹⁷ bits (16 KiB, resident in L1).
// Because one of the two always falls on an even position of the input,
// the scan tests the bitmap only at every other position, and only a set
// bit leads to a case-folded comparison of the few keywords anchored there
// (one masked load for their first eight bytes). No test depends on an
// earlier position, so the loop has no carried dependency and runs several
// times faster than a DFA walk, whose every step waits for the previous
// state (RATIONALE: "Why not an Aho-Corasick library?"); nor does it
// branch on a test's result (testBlocks), which in text is too often true
// to be predicted. With AVX2, the tests of 128 bytes go into one mask
// word, eight at a time by a gather from the bitmap (testMasks), and the
// usual candidate (one or two keywords of at most eight bytes on its
// hash) is compared inline, without a branch on the result either.
//
// Shorter keywords fit the same loop in two ways. One with a byte that is
// rare in text ('$', '\\', '~', '`') is found from that byte: the
// engine's classification marks them (classWords.rare), and
// bytes.IndexByte, which is vectorised, finds the others. A three-byte one
// is indexed by itself (for even positions) and by its last two bytes and
// each byte that may follow (every printable ASCII byte, tab, newline and
// return; for odd positions).
// Such a keyword at an odd position followed by any other byte (a control
// character, a non-ASCII byte, or a byte none of its rules accepts there)
// is not found; one that ends the input is checked on its own.
type literals struct {
	pats [][]byte                   // lower-case keywords
	bm4  [1 << quadBits / 64]uint64 // the 3-gram hash bitmap
	// rank4[w] counts the bits set in bm4[:w], so that the bits set
	// number the hashes of the index densely; by4[r]..by4[r+1] is the
	// range of anchors4 on the hash whose bit is the r-th set. These
	// tables (a few KiB) stay in L1 next to the bitmap, where an index
	// by hash (2¹⁷ entries) would not.
	rank4    [1 << quadBits / 64]uint16
	by4      []uint16
	anchors4 []anchor
	// first4[r] is anchors4[by4[r]], the first anchor on the r-th hash,
	// one dependent load closer to the bitmap for find.
	first4 []anchor
	rare   map[byte][]anchor // short keywords by their rare byte
	short  []int             // keywords shorter than four bytes
	// follows are the bytes that may follow each keyword (nil: any).
	follows []func(c byte) bool
}

// findChunk is how many blocks of eight bytes find tests before it looks
// closer at those with a candidate.
const findChunk = 512

// quadBits is the size of the 3-gram hash.
const quadBits = 17

// rareBytes anchor short keywords through bytes.IndexByte.
const rareBytes = "$\\~`"

// anchor says that keyword pat, spelled v (the keyword or one of its
// one-byte extensions), is anchored at offset off of v.
//
// head and mask hold the first eight bytes of v as a little-endian word,
// so that one load, OR and AND compare them in b whatever their case: mask
// has 0xff for each byte of v and 0xdf for each letter (whose bit 0x20 is
// the case), and head has the letters in upper case. A byte c of b with
// c&0xdf == 'A'..'Z' is exactly 'a'..'z' or 'A'..'Z'. Bytes of v past the
// eighth are those of the keyword (only a keyword of three bytes is
// extended), which check compares from pats. The anchor is kept small (32
// bytes) as check reads one for every candidate.
type anchor struct {
	head uint64
	mask uint64
	pat  int32
	off  int32 // of the anchor in v
	n    int32 // len(v)
	// more is, in the first anchor on a hash, how many others follow it
	// (see literals.find).
	more int32
}

// newAnchor fills in head and mask.
func newAnchor(pat, off int, v []byte) anchor {
	a := anchor{pat: int32(pat), off: int32(off), n: int32(len(v))}
	for j, c := range v[:min(8, len(v))] {
		m := uint64(0xff)
		if c >= 'a' && c <= 'z' {
			m, c = 0xdf, c&0xdf
		}
		a.mask |= m << (8 * j)
		a.head |= uint64(c) << (8 * j)
	}
	return a
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

// byteWeight estimates how common a byte is in program output, so that
// the rarest q-gram of a keyword is chosen as its anchor. The numbers are
// rough English letter frequencies (per mille); spaces are the most common
// byte, digits and punctuation are rarer than letters.
var byteWeight = func() (w [256]float64) {
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

// triHash hashes the 3-gram in the low three bytes of x. Setting bit 0x20
// of each byte folds ASCII letters to lower case; it also merges some other
// bytes ('@' with '`', '_' with DEL), which only costs a rare extra
// comparison, and it folds three bytes with one OR.
func triHash(x uint32) uint32 {
	return ((x&0xffffff | 0x202020) * 0x9E3779B1) >> (32 - quadBits)
}

// triKey is the hash of the 3-gram at p.
func triKey(p []byte) uint32 {
	return triHash(uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16)
}

// followers are the bytes a three-byte keyword is extended with.
var followers = func() (f []byte) {
	f = append(f, '\t', '\n', '\r')
	for c := byte(0x20); c < 0x7f; c++ {
		if c < 'A' || c > 'Z' { // upper case folds onto lower case
			f = append(f, c)
		}
	}
	return f
}()

// newLiterals indexes the keywords; each must be at least two bytes long.
// follows[i], when set, tells which bytes may follow keyword i (see
// rule.follows): a three-byte keyword is indexed with those followers
// only, so that "pan" of "PAN data", which only whitespace may follow,
// does not make every "and" and "ant" of a text a candidate.
func newLiterals(keywords []string, follows []func(c byte) bool) *literals {
	l := &literals{rare: map[byte][]anchor{}, follows: follows}
	by3 := map[uint32][]anchor{}
	add := func(i, off int, v []byte) {
		key := triKey(v[off:])
		l.bm4[key>>6] |= 1 << (key & 63)
		by3[key] = append(by3[key], newAnchor(i, off, v))
	}
	weight := func(g []byte) float64 {
		w := 1.0
		for _, c := range g {
			w *= byteWeight[c]
		}
		return w
	}
	for i, k := range keywords {
		p := []byte(k)
		for j := range p {
			p[j] = fold[p[j]]
		}
		l.pats = append(l.pats, p)
		switch {
		case len(p) >= 4:
			// The rarest 3-gram at an even offset and the rarest at an
			// odd one: the scan looks at every other position, and one
			// of the two always falls on it. They need not be
			// neighbours, so that a common 3-gram ("que" of
			// "http.request(") is not chosen for its rare neighbour.
			best := [2]int{-1, -1}
			var bestW [2]float64
			for j := 0; j+3 <= len(p); j++ {
				if w := weight(p[j : j+3]); best[j%2] < 0 || w < bestW[j%2] {
					best[j%2], bestW[j%2] = j, w
				}
			}
			add(i, best[0], p)
			add(i, best[1], p)
		case len(p) < 2:
			panic("scan: keyword shorter than two bytes: " + k)
		case bytes.ContainsAny(p, rareBytes):
			c := p[bytes.IndexAny(p, rareBytes)]
			l.rare[c] = append(l.rare[c], newAnchor(i, bytes.IndexByte(p, c), p))
		case len(p) == 3:
			// The keyword itself for even positions, the keyword and the
			// byte after it for odd ones.
			l.short = append(l.short, i)
			add(i, 0, p)
			for _, c := range followers {
				if f := follows[i]; f != nil && !f(c) && !(c >= 'a' && c <= 'z' && f(c-'a'+'A')) {
					continue
				}
				add(i, 1, append(bytes.Clone(p), c))
			}
		default:
			panic("scan: two-byte keyword without a rare byte: " + k)
		}
	}
	// The index is filled from the sorted keys of by3 rather than by
	// looking up each of the 1<<quadBits hashes: the lookups cost several
	// ms of CPU, paid by every kavach run that scans.
	keys := make([]uint32, 0, len(by3))
	n := 0
	for k, as := range by3 {
		keys = append(keys, k)
		n += len(as)
	}
	if n >= 1<<16 {
		panic("scan: too many keyword anchors")
	}
	slices.Sort(keys)
	l.anchors4 = make([]anchor, 0, n)
	l.by4 = make([]uint16, 0, len(keys)+1)
	for _, k := range keys {
		l.by4 = append(l.by4, uint16(len(l.anchors4)))
		as := by3[k]
		as[0].more = int32(len(as) - 1)
		l.anchors4 = append(l.anchors4, as...)
	}
	l.by4 = append(l.by4, uint16(len(l.anchors4)))
	for _, j := range l.by4[:len(keys)] {
		l.first4 = append(l.first4, l.anchors4[j])
	}
	r := 0
	for w, x := range l.bm4 {
		l.rank4[w] = uint16(r)
		r += bits.OnesCount64(x)
	}
	return l
}

// at4 returns the anchors on 3-gram hash q, whose bit in bm4 is set.
func (l *literals) at4(q uint32) []anchor {
	w := q >> 6
	r := int(l.rank4[w]) + bits.OnesCount64(l.bm4[w]&(1<<(q&63)-1))
	return l.anchors4[l.by4[r]:l.by4[r+1]]
}

// hit is one keyword occurrence at [start, start+len(pattern)).
type hit struct {
	pat   int
	start int
}

// find appends every keyword occurrence in b to hits. The hits are not
// ordered: rules look at each on its own, and the engine orders the
// findings, which are far fewer.
func (l *literals) find(b []byte, hits []hit) []hit {
	return l.findRange(b, 0, len(b), hits, nil, 0, new(findScratch))
}

// findScratch is room for findRange's masks and hashes, kept by the
// engine's scratch (see scanScratch) so that a small Scan does not clear
// 8 KiB on every call.
type findScratch struct {
	masks  [findChunk / 16]uint64
	hashes [findChunk * 4]uint32
}

// findRange appends the keyword occurrences that find reports in b at the
// positions in [lo, hi) of their anchors, where lo is even: ranges that
// cover b find every occurrence once. A keyword may start before lo or
// end after hi; the rare-byte keywords are found from their rare byte,
// the three-byte ones that end b in the range that ends at len(b).
//
// rare lists the positions of rareBytes in [lo, rareEnd), which the
// caller found already (classify does, see engine.Scan); findRange looks
// for the others.
func (l *literals) findRange(b []byte, lo, hi int, hits []hit, rare []int, rareEnd int, fs *findScratch) []hit {
	bm := &l.bm4
	i := lo
	// Positions tested in the loops below are before end; each reads
	// the two bytes after its position.
	end := min(hi, len(b)-2)
	// testBlocks tests the 3-grams at the four even positions of eight
	// bytes and writes each position and hash to cand whatever the test
	// says, advancing in cand only when the bit is set. A branch on the
	// results, taken for one block in four in text, would be mispredicted
	// each time; the few positions written are looked at closer
	// afterwards, a chunk at a time.
	if hasMasks {
		// testMasks tests the 3-grams at the 64 even positions of 128
		// bytes into one word; the bits set, few in text, are looked at
		// one by one.
		masks, hashes := &fs.masks, &fs.hashes
		for i+128 <= end {
			n := min(len(masks), (end-i)/128)
			l.testMasks(b[i:], n, masks[:n], hashes[:64*n])
			total := 0
			for _, m := range masks[:n] {
				total += bits.OnesCount64(m)
			}
			hits = slices.Grow(hits, total)
			for k, m := range masks[:n] {
				for ; m != 0; m &= m - 1 {
					j := bits.TrailingZeros64(m)
					p := i + 128*k + 2*j
					// check, inlined for the usual case: one or two
					// keywords on the hash, the first of at most eight
					// bytes and fully inside b. The hit is appended
					// whatever the compare says and dropped when it
					// fails (see check).
					q := hashes[64*k+j]
					w := q >> 6
					r := int(l.rank4[w]) + bits.OnesCount64(l.bm4[w]&(1<<(q&63)-1))
					a := &l.first4[r]
					s := p - int(a.off)
					if a.more > 1 || a.n > 8 || s < 0 || s+8 > len(b) {
						j := int(l.by4[r])
						hits = l.check(b, p, l.anchors4[j:j+1+int(a.more)], hits)
						continue
					}
					drop := 1
					if binary.LittleEndian.Uint64(b[s:])&a.mask == a.head {
						drop = 0
					}
					hits = append(hits, hit{pat: int(a.pat), start: s})
					hits = hits[:len(hits)-drop]
					if a.more != 0 {
						// A second keyword on the hash (one hash in
						// eight or so).
						hits = l.check(b, p, l.anchors4[int(l.by4[r])+1:][:1], hits)
					}
				}
			}
			i += 128 * n
		}
	}
	var cand [4 * findChunk]uint64
	for i+8 <= end {
		n := min(findChunk, (end-i)/8)
		k := l.testBlocks(b[i:], n, cand[:], i)
		i += 8 * n
		for _, c := range cand[:k] {
			p, q := int(c>>quadBits), uint32(c&(1<<quadBits-1))
			hits = l.check(b, p, l.at4(q), hits)
		}
	}
	for ; i < end; i += 2 {
		q := triKey(b[i:])
		if bm[q>>6]&(1<<(q&63)) != 0 {
			hits = l.check(b, i, l.at4(q), hits)
		}
	}
	// A three-byte keyword that ends the input at an odd position has no
	// byte after it to be found by.
	for _, pi := range l.short {
		if hi < len(b) {
			break
		}
		p := l.pats[pi]
		if s := len(b) - len(p); s >= 0 && s%2 == 1 && equalFold(b[s:], p) {
			hits = append(hits, hit{pat: pi, start: s})
		}
	}
	for _, p := range rare {
		hits = l.check(b, p, l.rare[b[p]], hits)
	}
	for c, as := range l.rare {
		for off := max(lo, min(rareEnd, hi)); ; {
			j := bytes.IndexByte(b[off:hi], c)
			if j < 0 {
				break
			}
			hits = l.check(b, off+j, as, hits)
			off += j + 1
		}
	}
	return hits
}

// testBlocksGeneric is testBlocks in Go, the portable implementation and
// the reference of the assembly.
func (l *literals) testBlocksGeneric(b []byte, n int, cand []uint64, at int) int {
	bm := &l.bm4
	k := 0
	for j := range n {
		i := 8 * j
		x := binary.LittleEndian.Uint64(b[i:])
		y := binary.LittleEndian.Uint32(b[i+6:])
		for t, q := range [4]uint32{triHash(uint32(x)), triHash(uint32(x >> 16)), triHash(uint32(x >> 32)), triHash(y)} {
			cand[k] = uint64(at+i+2*t)<<quadBits | uint64(q)
			k += int(bm[q>>6] >> (q & 63) & 1)
		}
	}
	return k
}

// testMasksGeneric is testMasks in Go, the reference of the assembly.
func (l *literals) testMasksGeneric(b []byte, n int, masks []uint64, hashes []uint32) {
	for k := range n {
		var m uint64
		for j := range 64 {
			q := triKey(b[128*k+2*j:])
			m |= (l.bm4[q>>6] >> (q & 63) & 1) << j
			hashes[64*k+j] = q
		}
		masks[k] = m
	}
}

// check appends the keywords of as that occur around position i.
//
// It is the inner loop of find, run for every candidate, and written so
// that its compare does not branch: the hit is written whatever the
// result and kept only when the keyword is there, because in text a
// candidate is a keyword one time in four or five, which no predictor
// guesses.
func (l *literals) check(b []byte, i int, as []anchor, hits []hit) []hit {
	hits = slices.Grow(hits, len(as))
	n := len(hits)
	out := hits[:n+len(as)]
	for j := range as {
		a := &as[j]
		s := i - int(a.off)
		if s < 0 || s+8 > len(b) {
			if s >= 0 && s+int(a.n) <= len(b) && a.headAt(b[s:s+int(a.n)]) {
				out[n] = hit{pat: int(a.pat), start: s}
				n++
			}
			continue
		}
		eq := binary.LittleEndian.Uint64(b[s:])&a.mask == a.head
		if eq && a.n > 8 && (s+int(a.n) > len(b) || !equalFold(b[s+8:s+int(a.n)], l.pats[a.pat][8:])) {
			eq = false
		}
		out[n] = hit{pat: int(a.pat), start: s}
		if eq {
			n++
		}
	}
	return out[:n]
}

// headAt reports whether b, shorter than eight bytes, is the start of
// the anchor's spelling, ignoring case as head and mask do.
func (a *anchor) headAt(b []byte) bool {
	for j, c := range b {
		if uint64(c)&(a.mask>>(8*j)&0xff) != a.head>>(8*j)&0xff {
			return false
		}
	}
	return true
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
