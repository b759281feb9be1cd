package scan

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

// naiveFind is the obvious quadratic reference for literals.find.
func naiveFind(pats [][]byte, b []byte) []hit {
	var hits []hit
	for s := range b {
		for pi, p := range pats {
			if s+len(p) <= len(b) && equalFold(b[s:s+len(p)], p) {
				hits = append(hits, hit{pat: pi, start: s})
			}
		}
	}
	return hits
}

// acceptable drops the hits of three-byte keywords followed by a byte that
// none of their rules accepts there: the prefilter may or may not find
// those (it does at even offsets), and no rule reports them.
func acceptable(l *literals, b []byte, hs []hit) []hit {
	var out []hit
	for _, h := range hs {
		p := l.pats[h.pat]
		if e := h.start + len(p); len(p) == 3 && e < len(b) && l.follows[h.pat] != nil && !l.follows[h.pat](b[e]) {
			continue
		}
		out = append(out, h)
	}
	return out
}

func sortHits(h []hit) {
	slices.SortFunc(h, func(x, y hit) int {
		if x.start != y.start {
			return x.start - y.start
		}
		return x.pat - y.pat
	})
}

// TestLiteralsMatchNaive checks the prefilter against the reference on
// random text salted with the keywords of every scanner, in mixed case and
// at the very end of the input.
func TestLiteralsMatchNaive(t *testing.T) {
	l := allEngine().lits
	r := rand.New(rand.NewPCG(7, 7))
	alphabet := []byte("abcdeSKsk $(){}\\~`_-./:=\n\t0123456789QxyzAKIA")
	for round := range 300 {
		var b bytes.Buffer
		for b.Len() < 200+r.IntN(300) {
			if r.IntN(4) == 0 {
				p := bytes.Clone(l.pats[r.IntN(len(l.pats))])
				for i := range p {
					if r.IntN(2) == 0 && p[i] >= 'a' && p[i] <= 'z' {
						p[i] -= 'a' - 'A'
					}
				}
				b.Write(p)
			} else {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
		}
		if round%3 == 0 {
			b.Write(l.pats[r.IntN(len(l.pats))])
		}
		in := b.Bytes()
		got := acceptable(l, in, l.find(in, nil))
		want := acceptable(l, in, naiveFind(l.pats, in))
		sortHits(got)
		sortHits(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: find differs from naive\n in %q\n got  %v\n want %v", round, in, got, want)
		}
	}
	// Short inputs: a keyword alone, after one byte, before one byte, cut.
	for _, p := range l.pats {
		for _, in := range [][]byte{p, append([]byte("x"), p...), append(bytes.Clone(p), ' '), p[:len(p)-1]} {
			got, want := acceptable(l, in, l.find(in, nil)), acceptable(l, in, naiveFind(l.pats, in))
			sortHits(got)
			sortHits(want)
			if !slices.Equal(got, want) {
				t.Fatalf("find(%q) = %v, want %v", in, got, want)
			}
		}
	}
}

// keywordishInputs is 16 KiB of the generated clean text (corpus seed
// clean) and 200 random inputs of minLen to minLen+spread bytes, half of whose
// bytes come from keyword letters, so that the prefilter has hits to find.
func keywordishInputs(seed, clean uint64, minLen, spread int) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	inputs := [][]byte{scancorpus.Clean(1<<14, clean)}
	for range 200 {
		b := make([]byte, minLen+r.IntN(spread))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(2) == 0 {
				b[i] = "passwordTOKENsecretmountdata ../akia"[r.IntN(36)]
			}
		}
		inputs = append(inputs, b)
	}
	return inputs
}

// TestTestBlocks compares the block loop of find (assembly on amd64) with
// its Go form on random text and on the generated clean text.
func TestTestBlocks(t *testing.T) {
	l := allEngine().lits
	for _, b := range keywordishInputs(8, 3, 10, 600) {
		n := min(findChunk, (len(b)-10)/8+1)
		got, want := make([]uint64, 4*n), make([]uint64, 4*n)
		kg := l.testBlocks(b, n, got, 5)
		kw := l.testBlocksGeneric(b, n, want, 5)
		if kg != kw || !slices.Equal(got[:kg], want[:kw]) {
			t.Fatalf("%q: testBlocks = %x, want %x", b, got[:kg], want[:kw])
		}
	}
}

// TestTestMasks compares the mask loop of find (AVX2 assembly on amd64
// when the CPU has it) with its Go form on random text and on the
// generated clean text, and checks the Go form against the bitmap one
// position at a time.
func TestTestMasks(t *testing.T) {
	l := allEngine().lits
	for _, b := range keywordishInputs(10, 4, 130, 1200) {
		n := (len(b) - 2) / 128
		want, wantH := make([]uint64, n), make([]uint64, 64*n)
		hashes := make([]uint32, 64*n)
		l.testMasksGeneric(b, n, want, hashes)
		for j, q := range hashes {
			if q != triKey(b[2*j:]) {
				t.Fatalf("testMasksGeneric: hash %d is %x", j, q)
			}
			wantH[j] = uint64(q)
		}
		for k := range n {
			for j := range 64 {
				q := triKey(b[128*k+2*j:])
				if set := l.bm4[q>>6]>>(q&63)&1 == 1; set != (want[k]>>j&1 == 1) {
					t.Fatalf("testMasksGeneric: word %d bit %d is %v", k, j, !set)
				}
			}
		}
		got, gotH := make([]uint64, n), make([]uint32, 64*n)
		l.testMasks(b, n, got, gotH)
		if !slices.Equal(got, want) || !slices.EqualFunc(gotH, wantH, func(x uint32, y uint64) bool { return uint64(x) == y }) {
			t.Fatalf("%q: testMasks = %x, %x, want %x, %x", b, got, gotH, want, wantH)
		}
	}
}

// TestFindPaths runs the naive comparison with the mask loop and without
// it, so that the block loop, used where AVX2 is missing, stays tested.
func TestFindPaths(t *testing.T) {
	defer func(h bool) { hasMasks = h }(hasMasks)
	for _, h := range []bool{false, hasMasks} {
		hasMasks = h
		t.Run(fmt.Sprint("masks=", h), TestLiteralsMatchNaive)
	}
}

// TestFindRanges checks that findRange over ranges that cover the input,
// as the engine calls it a block at a time, finds what find finds.
func TestFindRanges(t *testing.T) {
	l := allEngine().lits
	r := rand.New(rand.NewPCG(11, 11))
	in, _ := scancorpus.Mixed(1<<16, 512, 3)
	in = append(in, "rm -rf $HOME `id` ~/.ssh \\x41 ../../etc pwd"...)
	want := l.find(in, nil)
	sortHits(want)
	for range 50 {
		var got []hit
		for lo := 0; lo < len(in); {
			hi := min(len(in), lo+2*r.IntN(3000))
			var rare []int
			rareEnd := lo + 64*r.IntN((hi-lo)/64+1)
			for p := lo; p < rareEnd; p++ {
				if strings.IndexByte(rareBytes, in[p]) >= 0 {
					rare = append(rare, p)
				}
			}
			got = l.findRange(in, lo, hi, got, rare, rareEnd, new(findScratch))
			lo = hi
		}
		sortHits(got)
		if !slices.Equal(got, want) {
			t.Fatalf("findRange found %d hits, find %d", len(got), len(want))
		}
	}
}
