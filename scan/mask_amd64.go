//go:build !purego

package scan

import "golang.org/x/sys/cpu"

// findMasksAVX2 is the assembly of mask_amd64.s.
//
//go:noescape
func findMasksAVX2(b *byte, n int, bm *uint64, masks *uint64, hashes *uint32)

// hasMasks says whether testMasks has a fast implementation: AVX2, whose
// gather fetches eight bits of the bitmap at once.
var hasMasks = cpu.X86.HasAVX2

// testMasks sets bit j of masks[k] when the 3-gram at b[128k+2j] has its
// bit set in the bitmap, and hashes[64k+j] to its hash, for k < n (b
// holds two bytes more). Only when hasMasks.
func (l *literals) testMasks(b []byte, n int, masks []uint64, hashes []uint32) {
	if n == 0 {
		return
	}
	_ = b[128*n+1]
	_ = masks[n-1]
	_ = hashes[64*n-1]
	findMasksAVX2(&b[0], n, &l.bm4[0], &masks[0], &hashes[0])
}
