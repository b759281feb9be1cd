package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends: concurrent writers append to
// one Writer, and each Append returns only after its group was written and
// fdatasynced. Group commit makes throughput grow with the number of
// writers (a group is whatever queued during the previous sync), so the
// benchmark runs with 32, 128 and 512 writers. Reported as events/s.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{32, 128, 512} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchAppend(b, writers) })
	}
}

func benchAppend(b *testing.B, writers int) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.log")
	w, err := Open(ctx, path, []byte(testKey))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	payload := map[string]any{
		"sandbox_id": "sbx-0123456789", "argv": []string{"python3", "-c", "print(1)"},
		"exit_code": 0, "duration_ms": 12, "enforced_score": 65,
	}
	b.ReportAllocs()
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.Append(ctx, "exec", payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify verifies a log of one million records (built once, with
// its checkpoint, in a temporary directory). Reported as s/1M-records.
func BenchmarkVerify(b *testing.B) {
	const records = 1_000_000
	path := filepath.Join(b.TempDir(), "million.log")
	buildLog(b, path, records)
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	ctx := context.Background()
	for b.Loop() {
		rep, err := Verify(ctx, path, []byte(testKey))
		if err != nil || rep.Records != records {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1M-records")
}

// buildLog writes n records of a realistic size directly (no fsync per
// record) and a checkpoint.
func buildLog(b *testing.B, path string, n int) {
	b.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	sc := newScratch([]byte(testKey))
	ts := []byte(formatTimestamp(time.Date(2026, 3, 25, 12, 0, 0, 123456789, time.UTC)))
	payload, err := canonicalPayload(map[string]any{
		"sandbox_id": "sbx-0123456789", "argv": []string{"python3", "-c", "print(1)"},
		"exit_code": 0, "duration_ms": 12, "enforced_score": 65,
	})
	if err != nil {
		b.Fatal(err)
	}
	var prev, line []byte
	for i := range n {
		et := []byte("exec")
		mac := sc.sumHex(uint64(i), et, payload, ts, prev)
		line = appendLine(line[:0], uint64(i), et, payload, ts, mac, prev)
		line = append(line, '\n')
		bw.Write(line)
		prev = append(prev[:0], mac...)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := writeCheckpoint(path, []byte(testKey), uint64(n), string(prev)); err != nil {
		b.Fatal(err)
	}
}
