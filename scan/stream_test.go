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
