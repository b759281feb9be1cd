package guard_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kavach-go/kavach/guard"
)

func writePids(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPidsReader checks that the kept-open reader sees what ReadPids
// sees, also after the files change, and without the optional files.
func TestPidsReader(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writePids(t, dir, map[string]string{"pids.current": "3\n", "pids.max": "max\n", "pids.events": "max 0\n", "pids.peak": "4\n"})
	r, err := guard.OpenPids(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, files := range []map[string]string{
		nil,
		{"pids.current": "12\n", "pids.max": "64\n", "pids.events": "max 7\n", "pids.peak": "64\n"},
		{"pids.current": "1\n"},
	} {
		writePids(t, dir, files)
		got, err := r.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := guard.ReadPids(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("reader %+v, ReadPids %+v", got, want)
		}
		n, err := r.MaxEvents()
		if err != nil || n != want.MaxEvents {
			t.Fatalf("MaxEvents = %d, %v; want %d", n, err, want.MaxEvents)
		}
	}

	old := t.TempDir()
	writePids(t, old, map[string]string{"pids.current": "2", "pids.max": "10"})
	r2, err := guard.OpenPids(old)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r2.Read(ctx)
	if err != nil || st != (guard.PidsStat{Current: 2, Max: 10, MaxEvents: -1, Peak: -1}) {
		t.Fatalf("without events and peak: %+v, %v", st, err)
	}
	if n, err := r2.MaxEvents(); n != -1 || err != nil {
		t.Fatalf("MaxEvents without pids.events = %d, %v", n, err)
	}
	r2.Close()
	if _, err := r2.Read(ctx); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}

	if _, err := guard.OpenPids(t.TempDir()); !errors.Is(err, guard.ErrNotPidsCgroup) {
		t.Fatalf("open of a non-pids dir: %v", err)
	}
	writePids(t, dir, map[string]string{"pids.current": "lots"})
	if _, err := r.Read(ctx); !errors.Is(err, guard.ErrParse) {
		t.Fatalf("malformed pids.current: %v", err)
	}
}
