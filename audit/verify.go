package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/gofrs/flock"
)

// Report describes a verified log.
type Report struct {
	// Records is the number of records that verified (all of them when the
	// error is nil).
	Records uint64 `json:"records"`
	// LastSerial and LastHMAC identify the last good record.
	LastSerial uint64 `json:"last_serial"`
	LastHMAC   string `json:"last_hmac,omitempty"`
	// Checkpoint is true when a checkpoint was present and authentic.
	Checkpoint bool `json:"checkpoint"`
	// CheckpointRecords is the record count the checkpoint vouches for.
	CheckpointRecords uint64 `json:"checkpoint_records"`
	// Warnings lists what could not be checked.
	Warnings []string `json:"warnings,omitempty"`
}

// Verification reads the log in blocks of verifyBlock bytes (cut at line
// ends) and checks blocks on all CPUs: every record's HMAC is independent of
// the others once the stored prev_hmac is trusted, and the links between
// records are then compared in order.
const (
	verifyBlock   = 1 << 20
	maxRecordSize = 64 << 20
)

// job is one block of whole lines.
type job struct {
	data  []byte
	first uint64 // index (expected serial) of its first line
	line  int    // 1-based line number of its first line
	done  chan blockResult
}

// blockResult is what a worker found in one block.
type blockResult struct {
	lines     uint64
	firstPrev []byte // prev_hmac of the first record, checked against the previous block
	lastHMAC  []byte
	// errAt is the index within the block of the first failed record and
	// errReason why; errAt < 0 when every local check passed. The link of
	// record 0 to the previous block is checked by the merger, which must
	// report a broken link before an HMAC failure of the same record, as
	// kavach 1.0 checks serial, then prev_hmac, then hmac.
	errAt      int64
	errReason  string
	zeroHMACOK bool
	// anchor is the hmac of the record with index anchorAt, if in block.
	anchor []byte
}

// Verify checks the whole log at path with key: every line is a canonical
// record, serials count up from 0, each prev_hmac is the previous hmac, every
// hmac is right, and the checkpoint (if any) is authentic and matches. It
// snapshots the log's size and checkpoint under a shared lock, so it sees no
// half-written group, and checks the records up to that size.
//
// A broken chain returns a *ChainError (errors.Is(err, ErrTampered)) naming
// the first bad serial and why, together with a Report of the records that
// verified before it. Other errors are I/O errors.
func Verify(ctx context.Context, path string, key []byte) (*Report, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("verify audit log %s: %w", path, ErrEmptyKey)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify audit log: %w", err)
	}
	defer f.Close()
	rep := &Report{}
	// The log's size and its checkpoint are read together under a shared
	// lock, which no writer holds between writing a group and updating the
	// checkpoint; the records up to that size are then checked without the
	// lock, so verifying a large live log does not stall its writers.
	// Appends after the snapshot are outside it.
	lock := flock.New(path, flock.SetFlag(os.O_RDONLY))
	locked, lerr := lock.TryRLockContext(ctx, lockRetry)
	if lerr != nil || !locked {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("verify audit log %s: wait for lock: %w", path, ctx.Err())
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("could not take a shared lock (%v); a concurrent append may show as a torn record", lerr))
	}
	fi, err := f.Stat()
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("verify audit log %s: %w", path, err)
	}
	size := fi.Size()
	cp, cpErr := readCheckpoint(path, key)
	lock.Unlock()
	if cpErr != nil && !errors.Is(cpErr, ErrTampered) {
		return nil, fmt.Errorf("verify audit log %s: %w", path, cpErr)
	}
	anchorAt := int64(-1)
	if cp != nil && cp.Records > 0 {
		anchorAt = int64(cp.Records - 1)
	}
	anchor, err := verifyRecords(ctx, io.NewSectionReader(f, 0, size), size, key, anchorAt, rep)
	if err != nil {
		return rep, fmt.Errorf("verify audit log %s: %w", path, err)
	}
	if cpErr != nil {
		return rep, fmt.Errorf("verify audit log %s: %w", path, cpErr)
	}
	if err := checkCheckpoint(cp, anchor, rep); err != nil {
		return rep, fmt.Errorf("verify audit log %s: %w", path, err)
	}
	return rep, nil
}

func checkCheckpoint(cp *checkpoint, anchor []byte, rep *Report) error {
	if cp == nil {
		rep.Warnings = append(rep.Warnings, "no checkpoint ("+CheckpointSuffix+" file): truncation of the tail cannot be detected")
		return nil
	}
	rep.Checkpoint = true
	rep.CheckpointRecords = cp.Records
	switch {
	case cp.Records > rep.Records:
		return &ChainError{Serial: rep.Records, Line: int(rep.Records) + 1,
			Reason: fmt.Sprintf("truncated: the checkpoint records %d records, the log has %d", cp.Records, rep.Records)}
	case cp.Records == 0:
		if rep.Records > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the checkpoint vouches for 0 of %d records", rep.Records))
		}
	case !bytes.Equal(anchor, []byte(cp.LastHMAC)):
		return &ChainError{Serial: cp.Records - 1, Line: int(cp.Records),
			Reason: "the record does not match the checkpoint's last hmac (log replaced or rewritten)"}
	case cp.Records < rep.Records:
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"the checkpoint vouches for %d of %d records (a writer stopped between writing records and updating the checkpoint?); truncation of the last %d cannot be detected",
			cp.Records, rep.Records, rep.Records-cp.Records))
	}
	return nil
}

// verifyRecords streams r through the workers and merges their results in
// order. It returns the hmac of the record with index anchorAt, if any.
func verifyRecords(ctx context.Context, r io.Reader, size int64, key []byte, anchorAt int64, rep *Report) ([]byte, error) {
	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan *job, workers)
	order := make(chan *job, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := newScratch(key)
			for j := range jobs {
				j.done <- checkBlock(sc, j, anchorAt)
			}
		}()
	}
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		defer close(order)
		defer close(jobs)
		readErr <- split(ctx, r, size, jobs, order, stop)
	}()
	defer func() {
		close(stop)
		for range order { // drain so the reader and workers finish
		}
		wg.Wait()
	}()

	var prevHMAC []byte
	var anchor []byte
	for j := range order {
		res := <-j.done
		if res.anchor != nil {
			anchor = res.anchor
		}
		if res.lines > 0 || res.errAt >= 0 {
			link := !bytes.Equal(res.firstPrev, prevHMAC)
			switch {
			case res.errAt == 0:
				return nil, &ChainError{Serial: j.first, Line: j.line, Reason: res.errReason}
			case link:
				return nil, &ChainError{Serial: j.first, Line: j.line, Reason: "prev_hmac mismatch: it is not the previous record's hmac (record deleted, inserted or reordered)"}
			case !res.zeroHMACOK:
				return nil, &ChainError{Serial: j.first, Line: j.line, Reason: "HMAC mismatch: the record was altered (or the key is wrong)"}
			case res.errAt > 0:
				rep.Records = j.first + uint64(res.errAt)
				rep.LastSerial = rep.Records - 1
				return nil, &ChainError{Serial: j.first + uint64(res.errAt), Line: j.line + int(res.errAt), Reason: res.errReason}
			}
		}
		rep.Records = j.first + res.lines
		if res.lines > 0 {
			rep.LastSerial = rep.Records - 1
			prevHMAC = res.lastHMAC
			rep.LastHMAC = string(res.lastHMAC)
		}
	}
	if err := <-readErr; err != nil {
		var ce *ChainError
		if errors.As(err, &ce) {
			ce.Serial, ce.Line = rep.Records, int(rep.Records)+1
		}
		return nil, err
	}
	return anchor, nil
}

// split reads r and sends blocks of whole lines, in order, to both the
// workers and the merger. A last line without a newline is a ChainError.
// size is the expected length of r, used to size the first buffers of a
// small log.
func split(ctx context.Context, r io.Reader, size int64, jobs, order chan<- *job, stop <-chan struct{}) error {
	var carry []byte
	first, line := uint64(0), 1
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := int(min(int64(verifyBlock), max(size, 0)+1))
		buf := make([]byte, len(carry), len(carry)+want)
		copy(buf, carry)
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		size -= int64(n)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			return fmt.Errorf("read: %w", err)
		}
		cut := bytes.LastIndexByte(buf, '\n') + 1
		carry = buf[cut:]
		if cut == 0 {
			if len(carry) > maxRecordSize {
				return &ChainError{Reason: "record longer than 64 MiB"}
			}
			continue
		}
		lines := bytes.Count(buf[:cut], []byte{'\n'})
		j := &job{data: buf[:cut], first: first, line: line, done: make(chan blockResult, 1)}
		select {
		case order <- j:
		case <-stop:
			return nil
		}
		select {
		case jobs <- j:
		case <-stop:
			j.done <- blockResult{errAt: -1}
			return nil
		}
		first += uint64(lines)
		line += lines
	}
	if len(carry) > 0 {
		return &ChainError{Reason: "the last record has no newline (torn write, or the log was cut mid-record)"}
	}
	return nil
}

// checkBlock verifies the lines of one block on their own.
func checkBlock(sc *scratch, j *job, anchorAt int64) blockResult {
	res := blockResult{errAt: -1}
	data := j.data
	var prev []byte
	for idx := int64(0); len(data) > 0; idx++ {
		nl := bytes.IndexByte(data, '\n')
		line := data[:nl]
		data = data[nl+1:]
		serial := j.first + uint64(idx)
		fail := func(reason string) blockResult {
			res.errAt, res.errReason = idx, reason
			return res
		}
		if len(line) == 0 {
			return fail("empty line")
		}
		r, err := sc.decode(line)
		if err != nil {
			return fail("malformed record: " + err.Error())
		}
		if r.serial != serial {
			return fail(fmt.Sprintf("serial gap: expected %d, found %d", serial, r.serial))
		}
		if idx == 0 {
			res.firstPrev = bytes.Clone(r.prevHMAC)
		} else if !bytes.Equal(r.prevHMAC, prev) {
			return fail("prev_hmac mismatch: it is not the previous record's hmac (record deleted, inserted or reordered)")
		}
		sum := sc.sumHex(r.serial, r.eventType, r.payload, r.timestamp, r.prevHMAC)
		ok := hmacMatches(sum, r.hmac)
		if idx == 0 {
			res.zeroHMACOK = ok
		} else if !ok {
			return fail("HMAC mismatch: the record was altered (or the key is wrong)")
		}
		prev = append(prev[:0], r.hmac...)
		if int64(serial) == anchorAt {
			res.anchor = bytes.Clone(r.hmac)
		}
		res.lines++
	}
	res.lastHMAC = prev
	return res
}
