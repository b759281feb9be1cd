//go:build !amd64 || purego

package scan

// testBlocks tests the 3-grams at the even positions of the blocks of
// eight bytes at b[8k:] for k < n (b holds two bytes more) and writes each
// position whose bit is set, counted from at, with its hash to cand as
// position<<17 | hash, in order; it returns how many it wrote. cand holds
// 4n entries.
func (l *literals) testBlocks(b []byte, n int, cand []uint64, at int) int {
	return l.testBlocksGeneric(b, n, cand, at)
}
