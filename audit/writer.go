package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// ErrNoCheckpoint is returned by Open for an existing log with more than a
// genesis record but no checkpoint, unless WithAdopt is given: resuming it
// silently would bless a log whose tail may already have been cut.
var ErrNoCheckpoint = errors.New("audit log has no checkpoint")

// ErrTornTail is returned when a log does not end with a newline: the last
// write was interrupted (or the file was cut). The log must be inspected
// (Verify names the line) before anything is appended to it.
var ErrTornTail = errors.New("audit log ends with an incomplete record")

// maxPayloadPasses bounds the serde_json round trips Append makes to reach
// a payload text that is stable under kavach 1.0's parse-and-print.
const maxPayloadPasses = 4

// maxPayloadSize keeps every record well under Verify's 64 MiB line limit
// (a variable so that a test can lower it).
var maxPayloadSize = 32 << 20

// lockRetry is how often Open polls a lock held by another process.
const lockRetry = 5 * time.Millisecond

// options configure Open.
type options struct {
	now          func() time.Time
	verifyOnOpen bool
	adopt        bool
	repairTorn   bool
}

// Option configures Open.
type Option func(*options) error

// WithClock sets the clock that stamps records (tests use a fixed one).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("audit: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithVerifyOnOpen verifies the whole existing chain before resuming it, as
// kavach 1.0's open does. Without it, Open checks only the last record (so a
// wrong key is caught) and the checkpoint, which is O(1) in the log's size;
// a broken chain is still reported by Verify, since records appended after
// a tampered one cannot repair it.
func WithVerifyOnOpen() Option {
	return func(o *options) error { o.verifyOnOpen = true; return nil }
}

// WithAdopt allows resuming a log that has no checkpoint (for example one
// written by kavach 1.0). The checkpoint written from then on vouches only
// for the records present at adoption and after.
func WithAdopt() Option {
	return func(o *options) error { o.adopt = true; return nil }
}

// WithRepairTornTail lets Open cut an incomplete last line (one without a
// newline) off the log instead of failing with ErrTornTail. Such a line is
// what a crash in the middle of a write leaves; no Append ever reported it
// as written, and it cannot be a valid record. Complete lines are never cut,
// and the checkpoint check that follows still catches a log cut further.
func WithRepairTornTail() Option {
	return func(o *options) error { o.repairTorn = true; return nil }
}

// Writer appends records to one log. It is safe for concurrent use: appends
// from many goroutines are serialised and committed in groups, one write
// and one fsync per group.
type Writer struct {
	path string
	key  []byte
	now  func() time.Time
	file *os.File
	cp   *os.File // the checkpoint, kept open for in-place updates
	lock *flock.Flock

	mu       sync.Mutex
	idle     *sync.Cond // signalled when flushing turns false
	queue    []*pending
	flushing bool
	closed   bool

	// The fields below belong to the current leader (the one goroutine that
	// is committing a group).
	// kick asks syncLoop to fsync the checkpoint; syncDone closes when it
	// has stopped; syncErr holds its last failure (guarded by syncMu).
	kick     chan struct{}
	syncDone chan struct{}
	syncMu   sync.Mutex
	syncErr  error

	size int64  // log size after the last commit seen by this writer
	next uint64 // next serial
	last string // hmac of the last record
	sc   *scratch
	buf  []byte
}

// pending is one Append waiting for its group to commit.
type pending struct {
	eventType string
	payload   []byte
	timestamp string
	rec       Record
	err       error
	lead      chan bool // true: become the leader; false: committed, see rec/err
}

// LoadKey reads an HMAC key from a file: its raw bytes, used as they are
// (no trimming, so a key file written by `echo` includes its newline).
// The key's bytes never appear in an error.
func LoadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load audit key: %w", err)
	}
	defer f.Close()
	const maxKey = 1 << 20
	key, err := io.ReadAll(io.LimitReader(f, maxKey+1))
	if err != nil {
		return nil, fmt.Errorf("load audit key %s: %w", path, err)
	}
	if len(key) > maxKey {
		return nil, fmt.Errorf("load audit key %s: longer than %d bytes", path, maxKey)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("load audit key %s: %w", path, ErrEmptyKey)
	}
	return key, nil
}

// Open opens the log at path for appending, creating it (mode 0600, with
// kavach 1.0's genesis record and a checkpoint) if it does not exist, or
// resuming an existing chain at its last serial and hmac. ctx bounds the
// wait for another process's lock and the optional full verification.
func Open(ctx context.Context, path string, key []byte, opts ...Option) (*Writer, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("open audit log: %w", err)
		}
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("open audit log %s: %w", path, ErrEmptyKey)
	}
	w := &Writer{path: path, key: bytes.Clone(key), now: o.now}
	w.idle = sync.NewCond(&w.mu)
	w.sc = newScratch(w.key)
	if err := w.open(ctx, o); err != nil {
		if w.file != nil {
			w.file.Close()
		}
		if w.cp != nil {
			w.cp.Close()
		}
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	w.kick = make(chan struct{}, 1)
	w.syncDone = make(chan struct{})
	go w.syncLoop()
	return w, nil
}

func (w *Writer) open(ctx context.Context, o options) error {
	if _, err := os.Lstat(w.path); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Lstat(w.path + CheckpointSuffix); err == nil {
			return &ChainError{Reason: "the log is missing but its checkpoint exists (log deleted or moved without it)"}
		}
		if err := w.create(); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if o.verifyOnOpen {
		if _, err := Verify(ctx, w.path, w.key); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(w.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	w.file = f
	if fi, err := f.Stat(); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	} else if fi.Mode().Perm()&^0o600 != 0 {
		// The log names commands and findings; nobody else should read it.
		if err := f.Chmod(0o600); err != nil {
			return err
		}
	}
	w.lock = flock.New(w.path, flock.SetFlag(os.O_RDONLY))
	locked, err := w.lock.TryLockContext(ctx, lockRetry)
	if err != nil || !locked {
		return fmt.Errorf("lock: %w", errors.Join(err, ctx.Err()))
	}
	defer w.lock.Unlock()
	if o.repairTorn {
		if err := cutTornTail(w.file); err != nil {
			return err
		}
	}
	if err := w.loadTail(); err != nil {
		return err
	}
	cp, err := readCheckpoint(w.path, w.key)
	if err != nil {
		return err
	}
	if cp == nil && w.next > 1 && !o.adopt {
		return fmt.Errorf("%w (%d records); verify it and open with adoption to resume", ErrNoCheckpoint, w.next)
	}
	if w.cp, err = openCheckpoint(w.path); err != nil {
		return err
	}
	switch {
	case cp == nil:
		return updateCheckpoint(w.cp, w.key, w.next, w.last, true)
	case cp.Records > w.next:
		return &ChainError{Serial: w.next, Reason: fmt.Sprintf("truncated: the checkpoint records %d records, the log has %d", cp.Records, w.next)}
	case cp.Records == w.next && cp.LastHMAC != w.last:
		return &ChainError{Serial: w.next - 1, Reason: "the last record does not match the checkpoint"}
	}
	return nil
}

// create writes a new log holding only the genesis record. The log appears
// atomically with its content (link(2) of a finished temporary file), so a
// concurrent Open sees either no log or a complete one, never an empty
// file to which it would append a record without the genesis.
func (w *Writer) create() error {
	dir := filepath.Dir(w.path)
	ts := formatTimestamp(w.now())
	payload := []byte(genesisPayload)
	mac := string(w.sc.sumHex(0, []byte(GenesisEventType), payload, []byte(ts), nil))
	line := appendLine(nil, 0, GenesisEventType, payload, ts, mac, "")
	line = append(line, '\n')
	f, err := os.CreateTemp(dir, "."+filepath.Base(w.path)+".new*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, w.path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // another process created it first; resume theirs
		}
		return err
	}
	// The checkpoint is written by open, under the lock, like any other
	// update; a crash before that leaves a genesis-only log without a
	// checkpoint, which open adopts.
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadTail reads the last record of the log and checks its hmac, so the
// chain resumes at the right serial with the right key. Called under the
// file lock.
func (w *Writer) loadTail() error {
	fi, err := w.file.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		w.size, w.next, w.last = 0, 0, ""
		return nil
	}
	line, err := readLastLine(w.file, size)
	if err != nil {
		return err
	}
	r, err := w.sc.decode(line)
	if err != nil {
		return &ChainError{Reason: "last record: " + err.Error()}
	}
	sum := w.sc.sumHex(r.serial, r.eventType, r.payload, r.timestamp, r.prevHMAC)
	if !hmacMatches(sum, r.hmac) {
		return &ChainError{Serial: r.serial, Reason: "HMAC mismatch in the last record (wrong key, or the record was altered)"}
	}
	w.size, w.next, w.last = size, r.serial+1, string(r.hmac)
	return nil
}

// cutTornTail truncates f after its last newline, if bytes follow it.
func cutTornTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	const block = 64 << 10
	for pos := size; pos > 0; {
		n := min(int64(block), pos)
		pos -= n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, pos); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return truncateTo(f, size, pos+int64(i)+1)
		}
	}
	return truncateTo(f, size, 0)
}

func truncateTo(f *os.File, size, keep int64) error {
	if keep == size {
		return nil
	}
	if err := f.Truncate(keep); err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	return datasync(f)
}

// readLastLine returns the last line of a file of the given size, without
// its newline, reading backwards in blocks.
func readLastLine(f *os.File, size int64) ([]byte, error) {
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return nil, err
	}
	if last[0] != '\n' {
		return nil, ErrTornTail
	}
	const block = 64 << 10
	const maxLine = 64 << 20
	end := size - 1
	var line []byte
	for pos := end; pos > 0; {
		n := min(int64(block), pos)
		pos -= n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, pos); err != nil {
			return nil, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return append(buf[i+1:], line...), nil
		}
		line = append(buf, line...)
		if len(line) > maxLine {
			return nil, errors.New("last record longer than 64 MiB")
		}
	}
	return line, nil
}

// Append records one event and returns once it is durably on disk (written
// and fsynced, together with any appends that arrived meanwhile). payload is
// marshalled with encoding/json and then put into the canonical form that
// kavach 1.0 hashes; the stored record carries exactly those bytes.
//
// ctx is checked before the record is queued. Once queued, the record is
// committed or fails with its group; a cancelled ctx then makes Append
// return early with ctx's error, and the record may still be committed.
//
// If the records were written but the checkpoint could not be updated, the
// returned Record is valid and the error wraps ErrCheckpoint.
func (w *Writer) Append(ctx context.Context, eventType string, payload any) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("audit append %s: %w", eventType, err)
	}
	if err := validEventType(eventType); err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	canon, err := canonicalPayload(payload)
	if err != nil {
		return Record{}, fmt.Errorf("audit append %s: %w", eventType, err)
	}
	if len(canon)+len(eventType) > maxPayloadSize {
		// Verify refuses records over 64 MiB; never write one.
		return Record{}, fmt.Errorf("audit append %s: %w: %d bytes, limit %d", eventType, ErrPayload, len(canon)+len(eventType), maxPayloadSize)
	}
	p := &pending{eventType: eventType, payload: canon, timestamp: formatTimestamp(w.now()), lead: make(chan bool, 1)}

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return Record{}, fmt.Errorf("audit append %s: %w", eventType, ErrClosed)
	}
	w.queue = append(w.queue, p)
	if w.flushing {
		w.mu.Unlock()
		select {
		case lead := <-p.lead:
			if !lead {
				return p.rec, p.err
			}
		case <-ctx.Done():
			w.mu.Lock()
			if i := slices.Index(w.queue, p); i >= 0 && len(p.lead) == 0 {
				// Still queued and not handed the lead (handing happens
				// under mu): withdraw it, nothing was written.
				w.queue = slices.Delete(w.queue, i, i+1)
				w.mu.Unlock()
				return Record{}, fmt.Errorf("audit append %s: %w", eventType, ctx.Err())
			}
			w.mu.Unlock()
			// Its group is being committed, or it was just made leader and
			// the others depend on it: finish the job.
			if lead := <-p.lead; !lead {
				return p.rec, p.err
			}
		}
		w.mu.Lock()
	}
	// This goroutine leads: it commits everything queued so far, then hands
	// the lead to the first append that queued meanwhile.
	w.flushing = true
	batch := w.queue
	w.queue = nil
	w.mu.Unlock()

	w.commit(batch)

	w.mu.Lock()
	if len(w.queue) > 0 {
		w.queue[0].lead <- true
	} else {
		w.flushing = false
		w.idle.Broadcast()
	}
	w.mu.Unlock()
	return p.rec, p.err
}

// canonicalPayload marshals v and brings it to the fixed point of kavach
// 1.0's serde_json parse-and-print, so that what is stored is what is
// hashed, now and when any verifier re-parses it.
func canonicalPayload(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	cur, err := canonicalize(nil, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	for range maxPayloadPasses {
		again, err := canonicalize(nil, cur)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPayload, err)
		}
		if bytes.Equal(again, cur) {
			return cur, nil
		}
		cur = again
	}
	return nil, fmt.Errorf("%w: a number does not survive serde_json's round trip", ErrPayload)
}

// commit writes one group under the file lock and fsyncs it, then updates
// the checkpoint. It reports the outcome to every pending append except the
// leader's own, which reads its fields directly.
func (w *Writer) commit(batch []*pending) {
	err := w.commitLocked(batch)
	for _, p := range batch {
		if p.err == nil {
			p.err = err
		}
		select {
		case p.lead <- false:
		default:
		}
	}
}

func (w *Writer) commitLocked(batch []*pending) error {
	if err := w.lock.Lock(); err != nil {
		return fmt.Errorf("audit lock: %w", err)
	}
	defer w.lock.Unlock()
	fi, err := w.file.Stat()
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if fi.Size() != w.size {
		// Another writer (process or Writer) appended since our last commit.
		if err := w.resume(fi.Size()); err != nil {
			return fmt.Errorf("audit append: resume after a concurrent writer: %w", err)
		}
	}
	buf := w.buf[:0]
	serial, prev := w.next, w.last
	for _, p := range batch {
		mac := string(w.sc.sumHex(serial, []byte(p.eventType), p.payload, []byte(p.timestamp), []byte(prev)))
		p.rec = Record{Serial: serial, EventType: p.eventType, Payload: p.payload, Timestamp: p.timestamp, HMAC: mac, PrevHMAC: prev}
		buf = appendLine(buf, serial, p.eventType, p.payload, p.timestamp, mac, prev)
		buf = append(buf, '\n')
		serial, prev = serial+1, mac
	}
	w.buf = buf
	if _, err := w.file.Write(buf); err != nil {
		return w.undo(batch, err)
	}
	if err := datasync(w.file); err != nil {
		return w.undo(batch, err)
	}
	w.size += int64(len(buf))
	w.next, w.last = serial, prev
	// The checkpoint is rewritten now, under the lock, so Verify and other
	// writers see it at once; its fsync is left to syncLoop, so a group
	// costs one fsync, not two. Until that fsync lands, a power loss leaves
	// a checkpoint behind the log: a warning, never a false alarm.
	if err := updateCheckpoint(w.cp, w.key, w.next, w.last, false); err != nil {
		return fmt.Errorf("audit append: %w: %w", ErrCheckpoint, err)
	}
	select {
	case w.kick <- struct{}{}:
	default: // a sync is already pending; it will cover this write
	}
	if err := w.takeSyncErr(); err != nil {
		return fmt.Errorf("audit append: %w: %w", ErrCheckpoint, err)
	}
	return nil
}

// resume reloads the chain's tail after another writer appended. Writers
// only append, and each rewrites the checkpoint under the lock, so the log
// has not shrunk, has no fewer records than this writer left, and its
// checkpoint matches its tail (or is behind it, after a crash). Anything
// else means records were cut off: continuing the chain from the cut would
// make the checkpoint vouch for the cut log. The writer's own state is
// then kept, so every later append fails too. Called under the file lock.
func (w *Writer) resume(size int64) error {
	oldSize, oldNext, oldLast := w.size, w.next, w.last
	err := w.loadTail()
	if err == nil {
		err = w.checkResumed(size, oldSize, oldNext)
	}
	if err != nil {
		w.size, w.next, w.last = oldSize, oldNext, oldLast
	}
	return err
}

func (w *Writer) checkResumed(size, oldSize int64, oldNext uint64) error {
	if size < oldSize || w.next < oldNext {
		return &ChainError{Serial: w.next, Reason: fmt.Sprintf("truncated: the log shrank from %d records (%d bytes) to %d (%d bytes) while open", oldNext, oldSize, w.next, size)}
	}
	cp, err := readCheckpoint(w.path, w.key)
	switch {
	case err != nil:
		return err
	case cp == nil:
		return &ChainError{Serial: w.next, Reason: "the checkpoint was removed while the log was open"}
	case cp.Records > w.next:
		return &ChainError{Serial: w.next, Reason: fmt.Sprintf("truncated: the checkpoint records %d records, the log has %d", cp.Records, w.next)}
	case cp.Records == w.next && cp.LastHMAC != w.last:
		return &ChainError{Serial: w.next - 1, Reason: "the last record does not match the checkpoint"}
	}
	return nil
}

// undo cuts a failed group back off the log, so no record that was
// reported as failed can later appear in the chain.
func (w *Writer) undo(batch []*pending, err error) error {
	for _, p := range batch {
		p.rec = Record{}
	}
	if terr := w.file.Truncate(w.size); terr != nil {
		return fmt.Errorf("audit append: %w (and truncating the partial write failed: %v)", err, terr)
	}
	return fmt.Errorf("audit append: %w", err)
}

// syncLoop fsyncs the checkpoint after groups were committed, coalescing
// requests that arrive while a sync runs.
func (w *Writer) syncLoop() {
	defer close(w.syncDone)
	for range w.kick {
		if err := datasync(w.cp); err != nil {
			w.syncMu.Lock()
			w.syncErr = err
			w.syncMu.Unlock()
		}
	}
}

func (w *Writer) takeSyncErr() error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	err := w.syncErr
	w.syncErr = nil
	return err
}

// Len returns the serial the next record will get, as far as this writer
// knows (another process may have appended since).
func (w *Writer) Len() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.flushing {
		w.idle.Wait()
	}
	return w.next
}

// Path returns the log's path.
func (w *Writer) Path() string { return w.path }

// Close waits for pending appends, fsyncs the checkpoint, closes the log
// and clears the writer's copy of the key. Appends after Close fail with ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	for w.flushing {
		w.idle.Wait()
	}
	w.mu.Unlock()
	close(w.kick)
	<-w.syncDone
	err := w.takeSyncErr()
	if serr := w.cp.Sync(); err == nil {
		err = serr
	}
	clear(w.key)
	if ferr := w.file.Close(); err == nil {
		err = ferr
	}
	if cerr := w.cp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}
