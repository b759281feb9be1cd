//go:build !purego

package scan

// findBlocks is the assembly of find_amd64.s.
//
//go:noescape
func findBlocks(b *byte, n int, bm *uint64, cand *uint64, at int) int

// testBlocks tests the 3-grams at the even positions of the blocks of
// eight bytes at b[8k:] for k < n (b holds two bytes more) and writes each
// position whose bit is set, counted from at, with its hash to cand as
// position<<17 | hash, in order; it returns how many it wrote. cand holds
// 4n entries.
func (l *literals) testBlocks(b []byte, n int, cand []uint64, at int) int {
	if n == 0 {
		return 0
	}
	_ = b[8*n+1]
	_ = cand[4*n-1]
	return findBlocks(&b[0], n, &l.bm4[0], &cand[0], at)
}
