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
		until := len(buf) - streamOverlap
		if eof {
			until = len(buf)
		}
		if err := emitWindow(s, buf, base, from, until, emit); err != nil {
			return base + int64(len(buf)), err
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

// emitWindow scans the window w, at offset base of the input, and emits
// the findings that start in [from, until) of it. Matches starting at or
// after until may be cut by the window's end; the next window, which
// starts streamOverlap before until, reports them.
func emitWindow(s Scanner, w []byte, base int64, from, until int, emit func(Finding) error) error {
	for _, f := range s.Scan(w) {
		if f.Start < from || f.Start >= until {
			continue
		}
		f.Start += int(base)
		f.End += int(base)
		if err := emit(f); err != nil {
			return err
		}
	}
	return nil
}

// bytesWindow is the window of StreamBytes. It is larger than Stream's, as
// it costs no memory of its own: the larger the window, the less of the
// input the overlap scans twice (0.8% here, 3% for Stream).
const bytesWindow = 16 << 20

// StreamBytes is Stream over b, which it scans in place: its windows are
// slices of b, not copies. It reports the findings Stream reports for the
// same bytes, except where the containment rule meets a window's edge
// (the windows are larger). After each window, it calls release, when not
// nil, with the length of the prefix of b that no later window reads, so
// that a caller that mapped b from a file may drop those pages.
func StreamBytes(ctx context.Context, b []byte, s Scanner, emit func(Finding) error, release func(n int)) error {
	return streamBytes(ctx, b, s, emit, release, bytesWindow)
}

// streamBytes is StreamBytes with windows of size window plus
// streamOverlap.
func streamBytes(ctx context.Context, b []byte, s Scanner, emit func(Finding) error, release func(n int), window int) error {
	from := 0 // findings starting before from were reported already
	for base := 0; ; base += window {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan stream: %w", err)
		}
		end := min(len(b), base+window+streamOverlap)
		until := end - base
		last := end == len(b)
		if !last {
			until -= streamOverlap
		}
		if err := emitWindow(s, b[base:end], int64(base), from, until, emit); err != nil {
			return err
		}
		if last {
			if release != nil {
				release(len(b))
			}
			return nil
		}
		if release != nil {
			release(base + window)
		}
		from = until - window
	}
}
