//go:build !purego

package scan

// classifyBlocks classifies n blocks of 64 bytes from b into out (the
// assembly of class_amd64.s).
//
//go:noescape
func classifyBlocks(b *byte, n int, out *classWords)

// classify fills out[k] with the classes of the bytes b[64k:64k+64].
func classify(b []byte, out []classWords) {
	if len(out) == 0 {
		return
	}
	_ = b[64*len(out)-1]
	classifyBlocks(&b[0], len(out), &out[0])
}
