//go:build !purego

package scan

import "golang.org/x/sys/cpu"

// classifyBlocks classifies n blocks of 64 bytes from b into out (the
// assembly of class_amd64.s, SSE2); classifyBlocksAVX2 is the same with
// AVX2.
//
//go:noescape
func classifyBlocks(b *byte, n int, out *classWords)

//go:noescape
func classifyBlocksAVX2(b *byte, n int, out *classWords)

// classifyAVX2 says whether classify uses AVX2 (a variable for the tests).
var classifyAVX2 = cpu.X86.HasAVX2

// classify fills out[k] with the classes of the bytes b[64k:64k+64].
func classify(b []byte, out []classWords) {
	if len(out) == 0 {
		return
	}
	_ = b[64*len(out)-1]
	if classifyAVX2 {
		classifyBlocksAVX2(&b[0], len(out), &out[0])
		return
	}
	classifyBlocks(&b[0], len(out), &out[0])
}
