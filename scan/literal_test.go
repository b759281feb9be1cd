package scan

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
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
		got := l.find(in, nil)
		want := naiveFind(l.pats, in)
		sortHits(got)
		sortHits(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: find differs from naive\n in %q\n got  %v\n want %v", round, in, got, want)
		}
	}
	// Short inputs: a keyword alone, after one byte, before one byte, cut.
	for _, p := range l.pats {
		for _, in := range [][]byte{p, append([]byte("x"), p...), append(bytes.Clone(p), ' '), p[:len(p)-1]} {
			got, want := l.find(in, nil), naiveFind(l.pats, in)
			sortHits(got)
			sortHits(want)
			if !slices.Equal(got, want) {
				t.Fatalf("find(%q) = %v, want %v", in, got, want)
			}
		}
	}
}
