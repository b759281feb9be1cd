//go:build !amd64 || purego

package scan

// hasMasks says whether testMasks has a fast implementation; the portable
// build uses testBlocks.
var hasMasks = false

// testMasks sets bit j of masks[k] when the 3-gram at b[128k+2j] has its
// bit set in the bitmap, and hashes[64k+j] to its hash, for k < n (b
// holds two bytes more).
func (l *literals) testMasks(b []byte, n int, masks []uint64, hashes []uint32) {
	l.testMasksGeneric(b, n, masks, hashes)
}
