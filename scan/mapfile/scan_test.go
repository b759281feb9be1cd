//go:build unix

package mapfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/scan/mapfile"
	"github.com/kavach-go/kavach/scan/scancorpus"
)

// TestScanTruncated scans a mapping whose file was truncated: the fault,
// raised inside the scanner's assembly or Go code, is ErrFault.
func TestScanTruncated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, scancorpus.Clean(1<<20, 7), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mapfile.Map(f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := f.Truncate(100); err != nil {
		t.Fatal(err)
	}
	err = mapfile.Guard(func() error {
		return scan.StreamBytes(context.Background(), m.Bytes(), scan.All(), func(scan.Finding) error { return nil }, m.Release)
	})
	if !errors.Is(err, mapfile.ErrFault) {
		t.Fatalf("scan of a truncated mapping: %v", err)
	}
}
