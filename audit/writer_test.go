package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

func openTemp(t *testing.T, opts ...Option) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(context.Background(), path, []byte(testKey), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func TestOpenCreatesGenesis(t *testing.T) {
	w, path := openTemp(t)
	if w.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (genesis)", w.Len())
	}
	for _, p := range []string{path, path + CheckpointSuffix} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte(`{"serial":0,"event_type":"genesis","payload":{"message":"audit chain initialized"},"timestamp":"`)) {
		t.Fatalf("genesis line %s", b)
	}
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(context.Background(), path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Open(context.Background(), path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after reopen", fi.Mode().Perm())
	}
}

func TestConcurrentAppend(t *testing.T) {
	w, path := openTemp(t)
	const goroutines, each = 32, 20
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				rec, err := w.Append(context.Background(), "exec", map[string]int{"g": g, "i": i})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[rec.Serial] {
					t.Errorf("serial %d returned twice", rec.Serial)
				}
				seen[rec.Serial] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1 + goroutines*each); rep.Records != want || !rep.Checkpoint || rep.CheckpointRecords != want {
		t.Fatalf("report %+v, want %d records", rep, want)
	}
	if n := independentVerify(t, path, testKey); n != 1+goroutines*each {
		t.Fatalf("independent verifier saw %d records", n)
	}
}

// TestTwoWriters appends through two Writers on one log at once, as two
// processes would; the file lock and the tail re-read keep one chain.
func TestTwoWriters(t *testing.T) {
	a, path := openTemp(t)
	b, err := Open(context.Background(), path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for _, w := range []*Writer{a, b, a, b} {
		wg.Go(func() {
			for i := range 25 {
				if _, err := w.Append(context.Background(), "tick", i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	a.Close()
	b.Close()
	rep, err := Verify(context.Background(), path, []byte(testKey))
	if err != nil || rep.Records != 101 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

const helperEnv = "KAVACH_AUDIT_TEST_HELPER"

// TestHelperProcess appends from a child process for TestCrossProcess.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // not a helper run; nothing to test here
	}
	w, err := Open(context.Background(), path, []byte(testKey))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := range 50 {
		if _, err := w.Append(context.Background(), "child", map[string]int{"pid": os.Getpid(), "i": i}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	w.Close()
	os.Exit(0)
}

// TestCrossProcess appends from this process and two children at once.
func TestCrossProcess(t *testing.T) {
	kavachtest.RequireLinux(t)
	w, path := openTemp(t)
	var cmds []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i := range 50 {
		if _, err := w.Append(context.Background(), "parent", i); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	w.Close()
	rep, err := Verify(context.Background(), path, []byte(testKey))
	if err != nil || rep.Records != 151 || rep.CheckpointRecords != 151 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestReopenResumes(t *testing.T) {
	w, path := openTemp(t)
	first, err := w.Append(context.Background(), "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w2, err := Open(context.Background(), path, []byte(testKey), WithVerifyOnOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	rec, err := w2.Append(context.Background(), "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Serial != 2 || rec.PrevHMAC != first.HMAC {
		t.Fatalf("resumed record %+v after %+v", rec, first)
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) string {
		w, path := openTemp(t)
		for i := range 5 {
			if _, err := w.Append(ctx, "e", i); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		return path
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, path string)
		opts   []Option
		key    string
		want   error
	}{
		{"wrong key", func(*testing.T, string) {}, nil, "other key", ErrTampered},
		{"torn tail", func(t *testing.T, p string) { appendBytes(t, p, `{"serial":6,"ev`) }, nil, testKey, ErrTornTail},
		{"truncated", func(t *testing.T, p string) { cutLines(t, p, 2) }, nil, testKey, ErrTampered},
		{"log deleted, checkpoint kept", func(t *testing.T, p string) { os.Remove(p) }, nil, testKey, ErrTampered},
		{"no checkpoint", func(t *testing.T, p string) { os.Remove(p + CheckpointSuffix) }, nil, testKey, ErrNoCheckpoint},
		{"tampered middle with full verify", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"payload":2`), []byte(`"payload":7`), 1), 0o600)
		}, []Option{WithVerifyOnOpen()}, testKey, ErrTampered},
		{"empty key", func(*testing.T, string) {}, nil, "", ErrEmptyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := setup(t)
			tt.mutate(t, path)
			w, err := Open(ctx, path, []byte(tt.key), tt.opts...)
			if err == nil {
				w.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			if tt.key != "" && strings.Contains(fmt.Sprint(err), tt.key) {
				t.Fatalf("error %q reveals the key", err)
			}
		})
	}
}

func appendBytes(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// cutLines removes the last n lines of path.
func cutLines(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines = lines[:len(lines)-1-n]
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAppendErrors(t *testing.T) {
	w, _ := openTemp(t)
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		eventType string
		payload   any
		want      error
	}{
		{"unmarshalable payload", ctx, "e", make(chan int), ErrPayload},
		{"empty event type", ctx, "", nil, ErrPayload},
		{"invalid UTF-8 event type", ctx, "\xff", nil, ErrPayload},
		{"cancelled context", cancelled, "e", nil, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := w.Append(tt.ctx, tt.eventType, tt.payload); !errors.Is(err, tt.want) {
				t.Fatalf("Append = %v, want %v", err, tt.want)
			}
		})
	}
	w.Close()
	if _, err := w.Append(ctx, "e", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if w.Len() != 1 {
		t.Fatalf("failed appends wrote records: Len = %d", w.Len())
	}
}

// TestAppendStablePayload checks that what Append stores is a fixed point
// of kavach 1.0's parse-and-print, including floats serde_json rounds
// differently from Go.
func TestAppendStablePayload(t *testing.T) {
	w, path := openTemp(t)
	payload := map[string]any{"a": 0.1, "b": 1e300, "c": 90071992547409930.0, "d": 1.0, "e": math.Copysign(0, -1), "f": 123456.789e-12}
	rec, err := w.Append(context.Background(), "floats", payload)
	if err != nil {
		t.Fatal(err)
	}
	again, err := canonicalize(nil, rec.Payload)
	if err != nil || !bytes.Equal(again, rec.Payload) {
		t.Fatalf("stored payload %s is not stable: %s, %v", rec.Payload, again, err)
	}
	w.Close()
	if _, err := Verify(context.Background(), path, []byte(testKey)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
		err              error
	}{
		{"raw bytes kept", write("k1", "s3cret\n"), "s3cret\n", nil},
		{"empty", write("k2", ""), "", ErrEmptyKey},
		{"missing", filepath.Join(dir, "nope"), "", os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadKey(tt.path)
			if !errors.Is(err, tt.err) || string(k) != tt.want {
				t.Fatalf("LoadKey = %q, %v", k, err)
			}
		})
	}
}

func TestFormatTimestamp(t *testing.T) {
	base := time.Date(2026, 3, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ns   int
		want string
	}{
		{0, "2026-03-25T12:00:00+00:00"},
		{500_000_000, "2026-03-25T12:00:00.500+00:00"},
		{1_000, "2026-03-25T12:00:00.000001+00:00"},
		{123_456_789, "2026-03-25T12:00:00.123456789+00:00"},
		{120_000_000, "2026-03-25T12:00:00.120+00:00"},
		{100, "2026-03-25T12:00:00.000000100+00:00"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.ns), func(t *testing.T) {
			got := formatTimestamp(base.Add(time.Duration(tt.ns)).In(time.FixedZone("X", 3600)))
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestCopiedLogVerifies copies a log and its checkpoint elsewhere, under
// another name: the pair still verifies, since the checkpoint does not name
// its log.
func TestCopiedLogVerifies(t *testing.T) {
	w, path := openTemp(t)
	for i := range 3 {
		if _, err := w.Append(context.Background(), "e", i); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	dst := filepath.Join(t.TempDir(), "archived.jsonl")
	for _, suffix := range []string{"", CheckpointSuffix} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Verify(context.Background(), dst, []byte(testKey))
	if err != nil || rep.Records != 4 || !rep.Checkpoint || len(rep.Warnings) != 0 {
		t.Fatalf("copied pair: %+v, %v", rep, err)
	}
}

// TestEmptyLog follows kavach 1.0: an existing empty file is an empty chain
// (no genesis record is added), and the first record gets serial 0.
func TestEmptyLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.log")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(context.Background(), path, []byte(testKey)); err != nil || rep.Records != 0 {
		t.Fatalf("empty: %+v, %v", rep, err)
	}
	w, err := Open(context.Background(), path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := w.Append(context.Background(), "first", nil)
	if err != nil || rec.Serial != 0 || rec.PrevHMAC != "" {
		t.Fatalf("first record %+v, %v", rec, err)
	}
	w.Close()
	if rep, err := Verify(context.Background(), path, []byte(testKey)); err != nil || rep.Records != 1 {
		t.Fatalf("after one append: %+v, %v", rep, err)
	}
}

func TestPayloadTooLarge(t *testing.T) {
	defer func(old int) { maxPayloadSize = old }(maxPayloadSize)
	maxPayloadSize = 1 << 10
	w, _ := openTemp(t)
	big := strings.Repeat("x", maxPayloadSize)
	if _, err := w.Append(context.Background(), "big", big); !errors.Is(err, ErrPayload) {
		t.Fatalf("Append of %d bytes: %v", len(big), err)
	}
}

// TestVerifyWhileAppending verifies a log again and again while writers
// append to it: every snapshot must be intact and match its checkpoint.
func TestVerifyWhileAppending(t *testing.T) {
	w, path := openTemp(t)
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := w.Append(ctx, "tick", map[string]int{"i": i}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	last := uint64(0)
	for n := 0; ; n++ {
		rep, err := Verify(ctx, path, []byte(testKey))
		if err != nil {
			t.Fatalf("verify %d during appends: %v", n, err)
		}
		if rep.Records < last || len(rep.Warnings) != 0 {
			t.Fatalf("verify %d: %+v after %d records", n, rep, last)
		}
		last = rep.Records
		select {
		case <-done:
			if rep, err := Verify(ctx, path, []byte(testKey)); err != nil || rep.Records != 201 {
				t.Fatalf("final: %+v, %v", rep, err)
			}
			return
		default:
		}
	}
}

func TestRepairTornTail(t *testing.T) {
	ctx := context.Background()
	w, path := openTemp(t)
	for i := range 3 {
		if _, err := w.Append(ctx, "e", i); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	appendBytes(t, path, `{"serial":4,"event_type":"e","payl`)
	if _, err := Open(ctx, path, []byte(testKey)); !errors.Is(err, ErrTornTail) {
		t.Fatalf("Open without repair: %v", err)
	}
	if _, err := Verify(ctx, path, []byte(testKey)); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify of a torn log: %v", err)
	}
	w, err := Open(ctx, path, []byte(testKey), WithRepairTornTail())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := w.Append(ctx, "after", nil)
	if err != nil || rec.Serial != 4 {
		t.Fatalf("append after repair: %+v, %v", rec, err)
	}
	w.Close()
	if rep, err := Verify(ctx, path, []byte(testKey)); err != nil || rep.Records != 5 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
	// Repair never hides a cut of whole records: the checkpoint still does.
	cutLines(t, path, 2)
	appendBytes(t, path, `{"ser`)
	if _, err := Open(ctx, path, []byte(testKey), WithRepairTornTail()); !errors.Is(err, ErrTampered) {
		t.Fatalf("repair of a truncated log: %v", err)
	}
}

func TestChainErrorMessage(t *testing.T) {
	err := error(&ChainError{Serial: 7, Line: 8, Reason: "HMAC mismatch"})
	if !errors.Is(err, ErrTampered) || err.Error() != "audit chain broken at serial 7 (line 8): HMAC mismatch" {
		t.Fatalf("%v", err)
	}
}
