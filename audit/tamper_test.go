package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// scratchDir returns a temporary directory, on tmpfs when there is one:
// the tamper tests write thousands of small files.
func scratchDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "kavach-audit-test"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// tamperFixture writes a log of n records (with its checkpoint) and returns
// the log's lines (with newlines) and the checkpoint's bytes.
func tamperFixture(t *testing.T, n int) (lines [][]byte, cp []byte) {
	return tamperFixtureTag(t, n, "event")
}

func tamperFixtureTag(t *testing.T, n int, tag string) (lines [][]byte, cp []byte) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fixture.log")
	base := time.Date(2026, 3, 25, 12, 0, 0, 0, time.UTC)
	tick := 0
	w, err := Open(ctx, path, []byte(testKey), WithClock(func() time.Time {
		tick++
		return base.Add(time.Duration(tick) * 1001 * time.Microsecond)
	}))
	if err != nil {
		t.Fatal(err)
	}
	payloads := []any{
		map[string]any{"argv": []string{"ls", "-l"}, "exit": 0, "ms": 12},
		map[string]any{"ratio": 1.0, "big": 1e21, "small": 1e-7, "neg": -3},
		map[string]any{"s": "é \"q\" \\ \n\t<&> 😀"},
		[]any{1, "x", nil, true, false, map[string]any{}},
		nil,
		"plain string",
	}
	for i := 1; i < n; i++ {
		if _, err := w.Append(ctx, fmt.Sprintf("%s-%d", tag, i%4), payloads[i%len(payloads)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, err = os.ReadFile(path + CheckpointSuffix)
	if err != nil {
		t.Fatal(err)
	}
	lines = bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty piece after the last newline
	if len(lines) != n {
		t.Fatalf("fixture has %d lines, want %d", len(lines), n)
	}
	return lines, cp
}

var verifySeq int

// verifyBytes writes log and checkpoint (nil: none) to a fresh path and
// verifies them.
func verifyBytes(t *testing.T, dir string, log, cp []byte) (*Report, error) {
	t.Helper()
	// A fresh name each time: rewriting one file in place makes ext4 flush
	// it on close (auto_da_alloc), which is a thousand times slower.
	verifySeq++
	path := filepath.Join(dir, fmt.Sprintf("t%d.log", verifySeq))
	defer os.Remove(path)
	defer os.Remove(path + CheckpointSuffix)
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	if cp != nil {
		if err := os.WriteFile(path+CheckpointSuffix, cp, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Verify(context.Background(), path, []byte(testKey))
}

func wantBroken(t *testing.T, err error, serial uint64, what string) {
	t.Helper()
	var ce *ChainError
	if !errors.As(err, &ce) || !errors.Is(err, ErrTampered) {
		t.Fatalf("%s: got %v, want a ChainError", what, err)
	}
	if ce.Serial != serial {
		t.Fatalf("%s: first bad serial %d, want %d (%v)", what, ce.Serial, serial, err)
	}
}

// TestTamperFlipEveryByte flips every byte of the log and of the checkpoint,
// with several masks, and expects each to be caught at the altered record.
func TestTamperFlipEveryByte(t *testing.T) {
	const n = 12
	lines, cp := tamperFixture(t, n)
	log := bytes.Join(lines, nil)
	dir := scratchDir(t)
	if _, err := verifyBytes(t, dir, log, cp); err != nil {
		t.Fatalf("untouched fixture: %v", err)
	}
	// recordAt maps a byte offset to the serial of the record holding it.
	recordAt := make([]uint64, 0, len(log))
	for i, l := range lines {
		for range l {
			recordAt = append(recordAt, uint64(i))
		}
	}
	masks := []byte{0x01, 0x20, 0x80}
	for pos := range log {
		for k, mask := range masks {
			if k > 0 && pos%(2*k+1) != 0 { // 0x01 on every byte, the others on a third and a fifth of them
				continue
			}
			bad := bytes.Clone(log)
			bad[pos] ^= mask
			_, err := verifyBytes(t, dir, bad, cp)
			wantBroken(t, err, recordAt[pos], fmt.Sprintf("byte %d ^ %#x (%q -> %q)", pos, mask, log[pos], bad[pos]))
		}
	}
	for pos := range cp {
		bad := bytes.Clone(cp)
		bad[pos] ^= 0x01
		if _, err := verifyBytes(t, dir, log, bad); !errors.Is(err, ErrTampered) {
			t.Fatalf("checkpoint byte %d flipped: %v", pos, err)
		}
	}
}

// TestTamperRecords deletes, reorders, inserts, duplicates and truncates
// records at every position.
func TestTamperRecords(t *testing.T) {
	const n = 10
	lines, cp := tamperFixture(t, n)
	dir := scratchDir(t)
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	t.Run("delete", func(t *testing.T) {
		for k := range n {
			bad := slices.Delete(slices.Clone(lines), k, k+1)
			_, err := verifyBytes(t, dir, join(bad), cp)
			wantBroken(t, err, uint64(k), fmt.Sprintf("delete %d", k))
		}
	})
	t.Run("swap adjacent", func(t *testing.T) {
		for k := range n - 1 {
			bad := slices.Clone(lines)
			bad[k], bad[k+1] = bad[k+1], bad[k]
			_, err := verifyBytes(t, dir, join(bad), cp)
			wantBroken(t, err, uint64(k), fmt.Sprintf("swap %d,%d", k, k+1))
		}
	})
	t.Run("move", func(t *testing.T) {
		for from := range n {
			for to := range n {
				if from == to {
					continue
				}
				bad := slices.Clone(lines)
				rec := bad[from]
				bad = slices.Delete(bad, from, from+1)
				bad = slices.Insert(bad, to, rec)
				_, err := verifyBytes(t, dir, join(bad), cp)
				wantBroken(t, err, uint64(min(from, to)), fmt.Sprintf("move %d to %d", from, to))
			}
		}
	})
	t.Run("insert copy", func(t *testing.T) {
		for src := range n {
			for at := 0; at <= n; at++ {
				bad := slices.Insert(slices.Clone(lines), at, lines[src])
				_, err := verifyBytes(t, dir, join(bad), cp)
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("insert copy of %d at %d: %v", src, at, err)
				}
			}
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		for k := range n {
			bad := slices.Insert(slices.Clone(lines), k+1, lines[k])
			_, err := verifyBytes(t, dir, join(bad), cp)
			wantBroken(t, err, uint64(k+1), fmt.Sprintf("duplicate %d", k))
		}
	})
	t.Run("insert forged", func(t *testing.T) {
		// A well-formed record made with another key, linked correctly.
		forged := strings.Replace(string(lines[3]), `"event_type":"event-3"`, `"event_type":"event-X"`, 1)
		bad := slices.Insert(slices.Clone(lines[:3]), 3, []byte(forged))
		_, err := verifyBytes(t, dir, join(bad), nil)
		wantBroken(t, err, 3, "forged record")
	})
	t.Run("truncate records", func(t *testing.T) {
		for keep := range n {
			_, err := verifyBytes(t, dir, join(lines[:keep]), cp)
			wantBroken(t, err, uint64(keep), fmt.Sprintf("keep %d records", keep))
		}
	})
	t.Run("truncate bytes", func(t *testing.T) {
		log := join(lines)
		for size := range len(log) {
			// Every line end and its neighbours, and every fifth byte.
			nearEnd := bytes.IndexByte(log[max(size-1, 0):min(size+2, len(log))], '\n') >= 0
			if !nearEnd && size%5 != 0 {
				continue
			}
			_, err := verifyBytes(t, dir, log[:size], cp)
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("cut to %d bytes: %v", size, err)
			}
		}
	})
	t.Run("truncate without checkpoint warns", func(t *testing.T) {
		rep, err := verifyBytes(t, dir, join(lines[:n-2]), nil)
		if err != nil || rep.Records != n-2 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "truncation") {
			t.Fatalf("got %+v, %v", rep, err)
		}
	})
	t.Run("checkpoint from another log", func(t *testing.T) {
		_, otherCP := tamperFixtureTag(t, n, "other")
		_, err := verifyBytes(t, dir, join(lines), otherCP)
		wantBroken(t, err, n-1, "foreign checkpoint")
	})
	t.Run("checkpoint behind warns", func(t *testing.T) {
		// The state a crash between fsync(log) and the checkpoint rename leaves.
		short := filepath.Join(t.TempDir(), "short.log")
		if err := os.WriteFile(short, join(lines[:n-3]), 0o600); err != nil {
			t.Fatal(err)
		}
		last := lines[n-4]
		h := last[bytes.Index(last, []byte(`"hmac":"`))+8:]
		if err := writeCheckpoint(short, []byte(testKey), n-3, string(h[:64])); err != nil {
			t.Fatal(err)
		}
		oldCP, _ := os.ReadFile(short + CheckpointSuffix)
		rep, err := verifyBytes(t, dir, join(lines), oldCP)
		if err != nil || rep.Records != n || rep.CheckpointRecords != n-3 || len(rep.Warnings) != 1 {
			t.Fatalf("got %+v, %v", rep, err)
		}
	})
}

// TestLiveWriterRefusesTruncatedLog checks that a writer that finds the log
// shorter than it left it (its last records cut off while it was open)
// refuses to append, rather than continuing the chain from the cut and
// rewriting the checkpoint to vouch for it. A second writer's appends
// still let it resume.
func TestLiveWriterRefusesTruncatedLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(scratchDir(t), "audit.log")
	w, err := Open(ctx, path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 5 {
		if _, err := w.Append(ctx, "exec", i); err != nil {
			t.Fatal(err)
		}
	}
	other, err := Open(ctx, path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(ctx, "exec", "from another writer"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, err := w.Append(ctx, "exec", "resumes after the other writer"); err != nil {
		t.Fatalf("append after another writer's: %v", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	cut := len(data) - len(lines[len(lines)-2]) - len(lines[len(lines)-3])
	if err := os.Truncate(path, int64(cut)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, "exec", "after the cut"); !errors.Is(err, ErrTampered) {
		t.Fatalf("append on a cut log: %v, want ErrTampered", err)
	}
	if _, err := Verify(ctx, path, []byte(testKey)); !errors.Is(err, ErrTampered) {
		t.Fatalf("verify after the cut and an append: %v, want ErrTampered", err)
	}
}

// TestIdleWriterRefusesTruncatedLog is the case where the records cut off
// were another writer's: the checkpoint that writer left tells.
func TestIdleWriterRefusesTruncatedLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(scratchDir(t), "audit.log")
	idle, err := Open(ctx, path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := Open(ctx, path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := busy.Append(ctx, "exec", i); err != nil {
			t.Fatal(err)
		}
	}
	busy.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if err := os.Truncate(path, int64(len(data)-len(lines[len(lines)-2]))); err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Append(ctx, "exec", "after the cut"); !errors.Is(err, ErrTampered) {
		t.Fatalf("append on a cut log: %v, want ErrTampered", err)
	}
}
