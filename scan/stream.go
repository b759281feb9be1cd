package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Stream window sizes. Every rule reads at most 64 KiB past the start of
// its match (a PEM block), so windows that overlap by streamOverlap bytes
// see every match whole, and a match is reported by the window in whose
// first part it starts.
const (
	streamChunk   = 4 << 20
	streamOverlap = 128 << 10
)

// Stream scans r with s in windows of a few MiB, so that memory stays
// bounded whatever the input size, and calls emit with each finding in
// order of start, offsets counted from the start of r. It returns the
// number of bytes read. It stops at the first error of r or emit, or when
// ctx is done.
//
// The findings are those of s.Scan over the whole input, except that the
// containment rule that merges findings of overlapping rules only applies
// within a window.
func Stream(ctx context.Context, r io.Reader, s Scanner, emit func(Finding) error) (int64, error) {
	buf := make([]byte, 0, streamChunk+streamOverlap)
	var base int64 // offset in r of buf[0]
	from := 0      // findings starting before from were reported already
	eof := false
	for !eof {
		if err := ctx.Err(); err != nil {
			return base + int64(len(buf)), fmt.Errorf("scan stream: %w", err)
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			return base + int64(len(buf)), fmt.Errorf("scan stream: %w", err)
		}
		// Matches starting at or after until may be cut by the window's
		// end; the next window, which starts streamOverlap earlier, reports
		// them.
		until := len(buf) - streamOverlap
		if eof {
			until = len(buf)
		}
		for _, f := range s.Scan(buf) {
			if f.Start < from || f.Start >= until {
				continue
			}
			f.Start += int(base)
			f.End += int(base)
			if err := emit(f); err != nil {
				return base + int64(len(buf)), err
			}
		}
		if eof {
			return base + int64(len(buf)), nil
		}
		// Keep the last streamOverlap bytes as context for the next window.
		keep := len(buf) - streamOverlap
		copy(buf, buf[keep:])
		buf = buf[:streamOverlap]
		base += int64(keep)
		from = until - keep
	}
	return base + int64(len(buf)), nil
}
