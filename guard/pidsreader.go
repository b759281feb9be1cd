package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// PidsReader reads the pids counters of one cgroup through descriptors it
// keeps open. A cgroup file re-read from offset 0 shows the current
// value, so each read costs one pread per file instead of an open, a read
// and a close: on the path of every command that matters (cgroupfs opens
// are the slow part). It is safe for concurrent use.
type PidsReader struct {
	dir string

	mu     sync.Mutex
	closed bool
	// current and max always exist; events and peak are nil where the
	// kernel has no such file.
	current, max, events, peak *os.File
}

// OpenPids opens the pids counters of the cgroup directory dir. A
// directory without pids.current is ErrNotPidsCgroup.
func OpenPids(dir string) (*PidsReader, error) {
	r := &PidsReader{dir: dir}
	var err error
	if r.current, err = os.Open(filepath.Join(dir, "pids.current")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open pids %s: no pids.current: %w", dir, ErrNotPidsCgroup)
		}
		return nil, fmt.Errorf("open pids %s: %w", dir, err)
	}
	if r.max, err = os.Open(filepath.Join(dir, "pids.max")); err != nil {
		r.current.Close()
		return nil, fmt.Errorf("open pids %s: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		dst  **os.File
	}{{"pids.events", &r.events}, {"pids.peak", &r.peak}} {
		h, err := os.Open(filepath.Join(dir, f.name))
		switch {
		case err == nil:
			*f.dst = h
		case !errors.Is(err, fs.ErrNotExist):
			r.close()
			return nil, fmt.Errorf("open pids %s: %w", dir, err)
		}
	}
	return r, nil
}

// Dir returns the cgroup directory r reads.
func (r *PidsReader) Dir() string { return r.dir }

// Read returns the counters now, as ReadPids would.
func (r *PidsReader) Read(ctx context.Context) (PidsStat, error) {
	if err := ctx.Err(); err != nil {
		return PidsStat{}, fmt.Errorf("read pids %s: %w", r.dir, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return PidsStat{}, fmt.Errorf("read pids %s: %w", r.dir, os.ErrClosed)
	}
	st := PidsStat{MaxEvents: -1, Peak: -1}
	var buf [128]byte
	b, err := pread(r.current, buf[:])
	if err != nil {
		return PidsStat{}, fmt.Errorf("read pids %s: %w", r.dir, err)
	}
	if st.Current, err = parsePidsValue(string(b)); err != nil || st.Current < 0 {
		return PidsStat{}, fmt.Errorf("read pids %s: pids.current %q: %w", r.dir, b, ErrParse)
	}
	if b, err = pread(r.max, buf[:]); err != nil {
		return PidsStat{}, fmt.Errorf("read pids %s: %w", r.dir, err)
	}
	if st.Max, err = parsePidsValue(string(b)); err != nil {
		return PidsStat{}, fmt.Errorf("read pids %s: pids.max: %w", r.dir, err)
	}
	if r.events != nil {
		if st.MaxEvents, err = r.readEvents(buf[:]); err != nil {
			return PidsStat{}, err
		}
	}
	if r.peak != nil {
		if b, err = pread(r.peak, buf[:]); err != nil {
			return PidsStat{}, fmt.Errorf("read pids %s: %w", r.dir, err)
		}
		if st.Peak, err = parsePidsValue(string(b)); err != nil || st.Peak < 0 {
			return PidsStat{}, fmt.Errorf("read pids %s: pids.peak %q: %w", r.dir, b, ErrParse)
		}
	}
	return st, nil
}

// MaxEvents returns the "max" counter of pids.events alone, or -1 where
// the kernel has no pids.events.
func (r *PidsReader) MaxEvents() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("read pids %s: %w", r.dir, os.ErrClosed)
	}
	if r.events == nil {
		return -1, nil
	}
	var buf [128]byte
	return r.readEvents(buf[:])
}

func (r *PidsReader) readEvents(buf []byte) (int64, error) {
	b, err := pread(r.events, buf)
	if err != nil {
		return 0, fmt.Errorf("read pids %s: %w", r.dir, err)
	}
	n, err := ParsePidsEvents(string(b))
	if err != nil {
		return 0, fmt.Errorf("read pids %s: %w", r.dir, err)
	}
	return n, nil
}

// Close closes the descriptors. Reads after Close fail.
func (r *PidsReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.close()
	return nil
}

func (r *PidsReader) close() {
	for _, f := range []*os.File{r.current, r.max, r.events, r.peak} {
		if f != nil {
			f.Close()
		}
	}
}

// pread reads a small file from its start; a file longer than buf is an
// error rather than a silently cut value.
func pread(f *os.File, buf []byte) ([]byte, error) {
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n == len(buf) {
		return nil, fmt.Errorf("%s: longer than %d bytes: %w", f.Name(), len(buf), ErrParse)
	}
	return buf[:n], nil
}
