package scan

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

// TestDataMasks checks the eight-byte digit, '-' or '.' and ':' masks against
// the byte classes for every byte at every position, among neighbours that
// provoke carries and borrows in a looser test.
func TestDataMasks(t *testing.T) {
	for _, fill := range []byte{'a', 0, 0xff, '9', ':', '/', ';', 0x80, 0xb0, 0xba} {
		for c := range 256 {
			for pos := range 8 {
				var blk [8]byte
				for i := range blk {
					blk[i] = fill
				}
				blk[pos] = byte(c)
				digit, colon, dashDot := dataMasks(binary.LittleEndian.Uint64(blk[:]))
				for i, x := range blk {
					d, k := digit>>(8*i+7)&1 == 1, colon>>(8*i+7)&1 == 1
					dd := dashDot>>(8*i+7)&1 == 1
					if d != isDigit(x) || k != (x == ':') || dd != (x == '-' || x == '.') {
						t.Fatalf("block %q: byte %d (%#x): digit %v colon %v dash or dot %v", blk, i, x, d, k, dd)
					}
				}
				if (digit|colon|dashDot)&^0x8080808080808080 != 0 {
					t.Fatalf("block %q: masks %#x %#x %#x have bits outside the flags", blk, digit, colon, dashDot)
				}
			}
		}
	}
}

// fusedInputs returns random inputs for the differential tests: pieces of
// clean text, every rule's generated positives and the near misses, glued
// by bytes that the fast paths treat specially, and then mutated by byte
// flips, so that matches start and end at every offset of an eight-byte
// block and next to each other.
func fusedInputs(seed uint64, rounds int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 11))
	pieces := truePositiveList(seed, 2)
	pieces = append(pieces, scancorpus.NearMisses(r)...)
	pieces = append(pieces, "2026-06-25T21:34:46Z", "./src/main.go:36", "10.0.0.1:8080", "fe80::1",
		"a0-65-1b-2c-3d-4e", "DE89370400440532013000", "(415) 555-2671", "+44 20 7946 0958", "1-415-555-2671",
		"0123:4567:89ab:cdef:0123:4567:89ab:cdef:0123:4567:89ab:cdef", "::1", "12:34:56:78:9a:bc",
		"4111 1111 1111 1111 4111 1111 1111 1111", "123-45-6789", "AKIAIOSFODNN7EXAMPLE",
		"aB3xZ9q7KpLm2Nw8Rt5Yv1Uc4Hd6Fg0Js", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0", "x@y.io", "user.name+tag@mail.co.uk")
	glue := []byte(" \n\t:.-_/+=(),;@AZaf09Tx\x00\xff")
	clean := scancorpus.Clean(1<<16, seed)
	var out [][]byte
	for range rounds {
		var b bytes.Buffer
		for b.Len() < 50+r.IntN(400) {
			switch r.IntN(4) {
			case 0:
				off := r.IntN(len(clean) - 64)
				b.Write(clean[off : off+r.IntN(64)])
			case 1:
				b.WriteString(pieces[r.IntN(len(pieces))])
			default:
				for range 1 + r.IntN(3) {
					b.WriteByte(glue[r.IntN(len(glue))])
				}
			}
		}
		in := b.Bytes()
		for range r.IntN(4) {
			in[r.IntN(len(in))] = glue[r.IntN(len(glue))]
		}
		out = append(out, in[:r.IntN(len(in)+1)])
	}
	return out
}

// collect runs a pass and returns its findings in the order it emitted
// them.
func collect(p pass, b []byte) []Finding {
	var fs []Finding
	p(b, func(f Finding) { fs = append(fs, f) })
	return fs
}

// TestDataPassMatchesReference compares the event-driven data pass with
// the byte-at-a-time reference: the same findings in the same order.
func TestDataPassMatchesReference(t *testing.T) {
	for i, in := range fusedInputs(5, 20000) {
		got, want := collect(dataPass, in), collect(refDataPass, in)
		if !slices.Equal(got, want) {
			t.Fatalf("input %d %q:\n got  %v\n want %v", i, in, got, want)
		}
	}
}
