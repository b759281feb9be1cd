package procinit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "data")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + dir}
	tests := []struct {
		name string
		want string
		err  error
	}{
		{"tool", exe, nil},
		{exe, exe, nil},
		{"missing", "", unix.ENOENT},
		{"sub", "", unix.EACCES},
		{sub, sub, unix.EACCES}, // a path is returned as given, with the reason it cannot run
	}
	if os.Geteuid() != 0 {
		// Root may execute a file without execute bits only if some bit
		// is set; as a user, a 0644 file is not executable.
		tests = append(tests, struct {
			name string
			want string
			err  error
		}{"data", "", unix.EACCES})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.name, env)
			if !errors.Is(err, tt.err) && err != tt.err {
				t.Fatalf("lookPath(%q) error = %v, want %v", tt.name, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("lookPath(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}
