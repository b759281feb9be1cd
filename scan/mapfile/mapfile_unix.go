//go:build unix

package mapfile

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// Mapping is a file mapped read-only.
type Mapping struct {
	b       []byte
	dropped int // pages below dropped were released
}

// Map maps the regular file f read-only, for reading once from start to
// end. It returns ErrNotMappable when f cannot be mapped (see there).
func Map(f *os.File) (*Mapping, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), err)
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() || size <= 0 || size > math.MaxInt {
		return nil, ErrNotMappable
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotMappable, err)
	}
	// Read-ahead, and pages behind may be dropped early. Only advice.
	_ = unix.Madvise(b, unix.MADV_SEQUENTIAL)
	return &Mapping{b: b}, nil
}

// Bytes returns the mapped bytes; reading them after the file shrank
// faults (see Guard), and after Close crashes.
func (m *Mapping) Bytes() []byte { return m.b }

// Release says that the first n bytes will not be read again: their
// pages leave the process (they stay in the page cache), so that a large
// file's pages do not all count in the resident set.
func (m *Mapping) Release(n int) {
	page := os.Getpagesize()
	n = min(n, len(m.b)) / page * page
	if n > m.dropped {
		_ = unix.Madvise(m.b[m.dropped:n], unix.MADV_DONTNEED)
		m.dropped = n
	}
}

// Close unmaps the file.
func (m *Mapping) Close() error {
	if m.b == nil {
		return nil
	}
	err := unix.Munmap(m.b)
	m.b = nil
	return err
}
