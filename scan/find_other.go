//go:build !amd64 || purego

package scan

// testBlocks tests the 3-grams at the even positions of the blocks of
// eight bytes at b[8k:] for k < n (b holds two bytes more), writes the
// blocks with a candidate to cand as offset<<4 | bits, offsets counted
// from at, and returns how many it wrote. cand holds n entries.
func (l *literals) testBlocks(b []byte, n int, cand []uint64, at int) int {
	return l.testBlocksGeneric(b, n, cand, at)
}
