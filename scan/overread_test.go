//go:build unix

package scan

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

// guarded returns a slice of n bytes that ends where an inaccessible page
// begins, so that reading one byte past it faults: a mapped file whose
// size is a multiple of the page size ends so.
func guarded(t *testing.T, n int) []byte {
	t.Helper()
	page := os.Getpagesize()
	size := (n+page-1)/page*page + page
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	if err := unix.Mprotect(m[size-page:], unix.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	return m[size-page-n : size-page : size-page]
}

// TestNoReadPastEnd runs every path that reads the input in wide loads
// (the assembly, and the Go around it) on inputs that end at an
// inaccessible page, at every length modulo 128 and beyond: a read past
// the end crashes the test.
func TestNoReadPastEnd(t *testing.T) {
	clean := scancorpus.Clean(1<<16, 21)
	in, _ := scancorpus.Mixed(1<<16, 512, 22)
	l := allEngine().lits
	for _, src := range [][]byte{clean, in} {
		for n := range 700 {
			if n > 300 {
				n = 1<<14 + n
			}
			b := guarded(t, n)
			copy(b, src[len(src)-n:])
			for _, s := range []Scanner{All(), Secrets(), Code(), Data()} {
				s.Scan(b)
			}
			l.find(b, nil)
			if k := (n - 2) / 128; k > 0 {
				l.testMasks(b, k, make([]uint64, k), make([]uint32, 64*k))
			}
			if k := min(findChunk, (n-10)/8+1); n >= 10 {
				l.testBlocks(b, k, make([]uint64, 4*k), 0)
			}
			if k := n / 64; k > 0 {
				classify(b[:64*k], make([]classWords, k))
			}
		}
	}
}
