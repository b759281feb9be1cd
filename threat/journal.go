package threat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// compactMinLines is the journal length below which the file is never
// compacted: rewriting a small file buys nothing.
const compactMinLines = 1024

// journal is the tracker's view of its state file: which file (by
// identity) it has applied, and how far. It is guarded by the tracker's
// mutex; the file itself by the lock file.
type journal struct {
	path  string
	file  os.FileInfo // the file applied so far; nil before the first load
	off   int64       // bytes applied
	lines int         // entry lines applied
	torn  int64       // offset of an unterminated last line, or -1
	// minCompact is the journal length below which the file is never
	// compacted (compactMinLines; tests lower it).
	minCompact int
}

// catchUp applies to st what the file holds beyond j.off. When the file
// was replaced (compacted by another process) or shrank, it reloads from
// scratch. f is the open state file.
func (j *journal) catchUp(st *state, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("load offender state: %w", err)
	}
	reload := j.file == nil || !os.SameFile(fi, j.file) || fi.Size() < j.off
	off := j.off
	if reload {
		off = 0
	}
	if fi.Size()-off > maxJournalRead {
		return fmt.Errorf("load offender state %s: %d unread bytes, more than %d: %w", j.path, fi.Size()-off, maxJournalRead, ErrCorrupt)
	}
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("load offender state %s: %w", j.path, err)
	}
	entries, consumed, torn, err := parseJournal(b, off)
	if err != nil {
		// st is left as it was: a block already known stays in force.
		return fmt.Errorf("load offender state %s (left untouched; move it aside or repair it): %w", j.path, err)
	}
	if reload {
		*st = newState()
		j.lines = 0
	}
	for _, e := range entries {
		st.apply(e)
	}
	j.file, j.off, j.torn = fi, off+consumed, -1
	j.lines += len(entries)
	if torn {
		j.torn = j.off
	}
	return nil
}

// load brings st up to date with the file without locking it; a missing
// file is an empty state. An unterminated last line is left for later: a
// writer may be appending it.
func (j *journal) load(ctx context.Context, st *state) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("load offender state: %w", err)
	}
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		*st = newState()
		j.file, j.off, j.lines = nil, 0, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("load offender state: %w", err)
	}
	defer f.Close()
	return j.catchUp(st, f)
}

// write appends entries to the file, which the caller holds locked and
// has caught up with, and compacts it when dead lines dominate (or when
// forced). A torn last line, left by a writer that crashed before its
// fsync returned (so its Record never succeeded), is cut off first.
func (j *journal) write(ctx context.Context, st *state, f *os.File, entries []entry, compact bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	if j.torn >= 0 {
		if err := f.Truncate(j.torn); err != nil {
			return fmt.Errorf("save offender state: cut torn line: %w", err)
		}
		j.torn = -1
	}
	var b []byte
	if j.off == 0 {
		b = []byte(journalHeader + "\n")
	}
	b, err := encodeLines(b, entries)
	if err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	if len(b) > 0 {
		if _, err := f.WriteAt(b, j.off); err != nil {
			return fmt.Errorf("save offender state: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("save offender state: %w", err)
		}
		j.off += int64(len(b))
		j.lines += len(entries)
		if j.file, err = f.Stat(); err != nil {
			return fmt.Errorf("save offender state: %w", err)
		}
	}
	if compact || j.lines > j.minCompact && j.lines > 2*st.live() {
		return j.compact(st)
	}
	return nil
}

// compact replaces the file by the snapshot of st: a temporary file in
// the same directory, 0600, written and fsynced, renamed over the path,
// and the directory fsynced so that the rename survives a crash.
func (j *journal) compact(st *state) (err error) {
	b, err := snapshot(st)
	if err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	dir := filepath.Dir(j.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(j.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	if err = os.Rename(f.Name(), j.path); err != nil {
		return fmt.Errorf("compact offender state: %w", err)
	}
	if err = syncDir(dir); err != nil {
		return err
	}
	j.file, j.off, j.lines, j.torn = fi, int64(len(b)), st.live(), -1
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
