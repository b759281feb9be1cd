package scan

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

// TestStreamMatchesScan checks that streaming a corpus larger than several
// windows reports what one Scan over it reports.
func TestStreamMatchesScan(t *testing.T) {
	in, _ := scancorpus.Mixed(3*streamChunk+12345, 2048, 5)
	want := All().Scan(in)
	var got []Finding
	n, err := Stream(context.Background(), iotest.HalfReader(bytes.NewReader(in)), All(), func(f Finding) error {
		got = append(got, f)
		return nil
	})
	if err != nil || n != int64(len(in)) {
		t.Fatalf("Stream: n=%d err=%v", n, err)
	}
	if len(got) != len(want) {
		t.Fatalf("stream found %d, scan %d", len(got), len(want))
	}
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("finding %d: stream %v, scan %v", i, got[i], want[i])
			}
		}
	}
}

func TestStreamErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := Stream(context.Background(), iotest.ErrReader(boom), All(), func(Finding) error { return nil })
	if !errors.Is(err, boom) {
		t.Fatalf("reader error: %v", err)
	}
	_, err = Stream(context.Background(), bytes.NewReader([]byte("mail bob@corp.io")), All(), func(Finding) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("emit error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Stream(ctx, bytes.NewReader(nil), All(), func(Finding) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

// TestStreamBytesMatchesStream checks the in-place windows against the
// copied ones of Stream, with the same window size and with StreamBytes's
// own, and that release covers the input in order.
func TestStreamBytesMatchesStream(t *testing.T) {
	in, _ := scancorpus.Mixed(3*streamChunk+54321, 2048, 6)
	// A secret across each boundary of Stream's windows.
	for k := 1; k <= 3; k++ {
		copy(in[k*streamChunk-10:], "AKIAQWERTYUIOPASDFGH1 password = \"hunter2-correct-horse\"")
	}
	var want []Finding
	n, err := Stream(context.Background(), bytes.NewReader(in), All(), func(f Finding) error {
		want = append(want, f)
		return nil
	})
	if err != nil || n != int64(len(in)) || len(want) < 100 {
		t.Fatalf("Stream: n=%d err=%v, %d findings", n, err, len(want))
	}
	for _, window := range []int{streamChunk, bytesWindow, 1 << 20} {
		var got []Finding
		var released []int
		err := streamBytes(context.Background(), in, All(), func(f Finding) error {
			got = append(got, f)
			return nil
		}, func(n int) { released = append(released, n) }, window)
		if err != nil {
			t.Fatalf("window %d: %v", window, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("window %d: %d findings, Stream %d", window, len(got), len(want))
		}
		if !slices.IsSorted(released) || len(released) == 0 || released[len(released)-1] != len(in) {
			t.Fatalf("window %d: released %v", window, released)
		}
	}
	if err := StreamBytes(context.Background(), nil, All(), func(Finding) error { return nil }, nil); err != nil {
		t.Fatalf("empty: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := StreamBytes(ctx, in, All(), func(Finding) error { return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}
