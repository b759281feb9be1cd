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

// refEvent is the definition of an event of dataPass at b[p], byte j of
// its block of 64, one byte at a time. Whether a separator follows the
// first digit is not known to the block of the byte before the digit when
// the separator is in the next block; it is then taken to follow.
func refEvent(b []byte, p, j int) bool {
	c := b[p]
	var prev, prev2 byte
	if p > 0 {
		prev = b[p-1]
	}
	if p > 1 {
		prev2 = b[p-2]
	}
	letter := isLetter(prev)
	hexLetter := letter && isHex(prev)
	if c == ':' {
		// The run of hex digits and ':' back from p must not follow a
		// letter that is no hex digit.
		s := p
		for s > 0 && (isHex(b[s-1]) || b[s-1] == ':') {
			s--
		}
		return !(s > 0 && isLetter(b[s-1]) && !isHex(b[s-1]))
	}
	if !isDigit(c) {
		return false
	}
	sepNext := j == 0 || j == 63 || b[p+1] == ':' || b[p+1] == '-' || b[p+1] == '.'
	exc := isUpper(prev) && isUpper(prev2) || hexLetter && sepNext
	glue := isDigit(prev) || prev == '-' || prev == '.' || prev == ':' || letter && !exc
	return p == 0 || !glue
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// TestClassify checks the classification (the assembly on amd64) against
// the byte classes, for every byte at every position.
func TestClassify(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for round := range 300 {
		b := make([]byte, 64*(1+r.IntN(3)))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		if round < 4 {
			for i := range b {
				b[i] = byte(64*round + i%64)
			}
		}
		got := make([]classWords, len(b)/64)
		want := make([]classWords, len(b)/64)
		classify(b, got)
		classifyGeneric(b, want)
		if !slices.Equal(got, want) {
			t.Fatalf("%q:\n got  %+v\n want %+v", b, got, want)
		}
	}
	var w [1]classWords
	classifyGeneric([]byte("09:-.AZaz_+/=fF@[`{$\\~\x80\xb0\xba\xc1\xe1\xff ,G~gAbc0123456789012345678901234567890"), w[:])
	for j, c := range []byte("09:-.AZaz_+/=fF@[`{$\\~") {
		cl := classes[c]
		bit := func(m uint64) bool { return m>>j&1 == 1 }
		if bit(w[0].digit) != isDigit(c) || bit(w[0].colon) != (c == ':') || bit(w[0].dashDot) != (c == '-' || c == '.') ||
			bit(w[0].upper) != isUpper(c) || bit(w[0].letter) != isLetter(c) || bit(w[0].hexLetter) != (isLetter(c) && isHex(c)) ||
			bit(w[0].token) != (cl&clsToken != 0) || bit(w[0].rare) != strings.ContainsRune(rareBytes, rune(c)) {
			t.Fatalf("classifyGeneric(%q) = %+v", c, w[0])
		}
	}
}

// TestDataEvents checks the event masks, carried from block to block,
// against refEvent on random text over the bytes that matter.
func TestDataEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	alpha := []byte("09:-./AFZafgz_ T\x00\x7f\x80\xb0\xba\xc1\xe1\xff")
	for range 3000 {
		b := make([]byte, 64*(1+r.IntN(3)))
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		cw := make([]classWords, len(b)/64)
		classify(b, cw)
		var carry uint64
		for k := range cw {
			var ev uint64
			ev, carry = dataEventMask(&cw[k], carry)
			for j := range 64 {
				if got, want := ev>>j&1 == 1, refEvent(b, 64*k+j, j); got != want {
					t.Fatalf("%q: byte %d: event %v, want %v", b, 64*k+j, got, want)
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
		"aB3xZ9q7KpLm2Nw8Rt5Yv1Uc4Hd6Fg0Js", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0", "x@y.io", "user.name+tag@mail.co.uk",
		"4111111111111111", "41111111111111112", "4111111111111111111111", "5555 5555 5555 4444", "3782-822463-10005",
		"+2026-03-04 ", "(2026-03-04", "+44 2079460958", "(415)5552671", "2026-06-25", "12345", "123456789012", "1234567890123",
		"12.5%", "1.2.3", "10.0.0", "1.0.0.1", "415.555.2671", "1.415.555.2671", "12.", "999.1.1.1")
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

// TestEntropyDataPassMatchesReference compares the combined pass of All
// with the two references run one after the other.
func TestEntropyDataPassMatchesReference(t *testing.T) {
	for i, in := range fusedInputs(6, 20000) {
		got := collect(entropyDataPass, in)
		want := append(naiveEntropy(in), collect(refDataPass, in)...)
		if !slices.Equal(got, want) {
			t.Fatalf("input %d %q:\n got  %v\n want %v", i, in, got, want)
		}
	}
}

// TestClassScanSteps checks that classPass run a range at a time, as the
// engine runs it between keyword blocks, emits what one run emits.
func TestClassScanSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for i, in := range fusedInputs(13, 3000) {
		want := collect(entropyDataPass, in)
		var got []Finding
		var c classScan
		c.start(in, true, true, func(f Finding) { got = append(got, f) }, new([classChunk]classWords))
		for hi := 0; hi < len(in); hi += r.IntN(200) {
			c.step(in, hi)
		}
		c.finish(in)
		if !slices.Equal(got, want) {
			t.Fatalf("input %d %q:\n got  %v\n want %v", i, in, got, want)
		}
	}
}

// TestClassifyPaths runs TestClassify with the AVX2 classification and
// without it, so that the SSE2 one, used where AVX2 is missing, stays
// tested.
func TestClassifyPaths(t *testing.T) {
	defer func(a bool) { classifyAVX2 = a }(classifyAVX2)
	for _, a := range []bool{false, classifyAVX2} {
		classifyAVX2 = a
		t.Run(fmt.Sprint("avx2=", a), TestClassify)
	}
}

// TestGatesChangeNothing checks that testing the rules' common conditions
// once per keyword (engine.gates), and taking the rare bytes from
// classify, give the findings of calling every rule on every keyword found
// by bytes.IndexByte, on the differential inputs, the labelled positives
// and the near misses, and clean and mixed text.
func TestGatesChangeNothing(t *testing.T) {
	defer func() { useGates, useClassRare = true, true }()
	inputs := fusedInputs(14, 5000)
	for _, p := range truePositiveList(15, 2) {
		inputs = append(inputs, []byte(p), []byte("x"+p), []byte(p+"_"))
	}
	for _, p := range scancorpus.NearMisses(rand.New(rand.NewPCG(16, 16))) {
		inputs = append(inputs, []byte(p))
	}
	mixed, _ := scancorpus.Mixed(1<<20, 1024, 17)
	inputs = append(inputs, scancorpus.Clean(1<<20, 18), mixed,
		[]byte("mount -o ro /dev/sda1 /mnt; Amount: 3; umount(x); mount\tfoo; password: 'hunter2hunter2' data subject"),
		append(bytes.Repeat([]byte("echo $(id) `id` cat ~/.ssh/id_rsa \\x41\\x42 ${HOME} "), 5000), "$(whoami)"...))
	for _, s := range []Scanner{All(), Secrets(), Code(), Data()} {
		for i, in := range inputs {
			useGates, useClassRare = true, true
			got := s.Scan(in)
			useGates, useClassRare = false, false
			want := s.Scan(in)
			if !slices.Equal(got, want) {
				t.Fatalf("%s, input %d %q:\n gated %v\n all rules %v", s.Name(), i, in, got, want)
			}
		}
	}
}
