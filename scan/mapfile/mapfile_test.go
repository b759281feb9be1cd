//go:build unix

package mapfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, b []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestMapReadRelease(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789abcdef"), 3*os.Getpagesize()/16+5)
	m, err := Map(writeFile(t, want))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("mapped bytes differ from the file")
	}
	// Released pages are read again from the file.
	m.Release(2*os.Getpagesize() + 7)
	m.Release(os.Getpagesize())
	if m.dropped != 2*os.Getpagesize() {
		t.Fatalf("dropped %d", m.dropped)
	}
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("bytes differ after Release")
	}
	m.Release(len(want) + 1)
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("bytes differ after releasing all")
	}
	if err := m.Close(); err != nil || m.Close() != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestNotMappable(t *testing.T) {
	if _, err := Map(writeFile(t, nil)); !errors.Is(err, ErrNotMappable) {
		t.Fatalf("empty file: %v", err)
	}
	d, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Map(d); !errors.Is(err, ErrNotMappable) {
		t.Fatalf("directory: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := Map(r); !errors.Is(err, ErrNotMappable) {
		t.Fatalf("pipe: %v", err)
	}
}

// TestGuardTruncated reads a mapping past the end of the truncated file:
// the fault is an error, not a crash.
func TestGuardTruncated(t *testing.T) {
	f := writeFile(t, bytes.Repeat([]byte{'x'}, 4*os.Getpagesize()))
	m, err := Map(f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := f.Truncate(100); err != nil {
		t.Fatal(err)
	}
	sum := 0
	err = Guard(func() error {
		for _, c := range m.Bytes() {
			sum += int(c)
		}
		return nil
	})
	if !errors.Is(err, ErrFault) {
		t.Fatalf("Guard = %v after reading %d", err, sum)
	}
	// The goroutine's setting is restored, and errors pass through.
	boom := errors.New("boom")
	if err := Guard(func() error { return boom }); err != boom {
		t.Fatalf("Guard = %v, want boom", err)
	}
}

func TestGuardOtherPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "other" {
			t.Fatalf("recovered %v, want the panic to go on", r)
		}
	}()
	_ = Guard(func() error { panic("other") })
}
