//go:build !unix

package mapfile

import "os"

// Mapping is a file mapped read-only; this platform maps none.
type Mapping struct{}

// Map returns ErrNotMappable: the caller reads the file.
func Map(f *os.File) (*Mapping, error) { return nil, ErrNotMappable }

// Bytes returns nil.
func (m *Mapping) Bytes() []byte { return nil }

// Release does nothing.
func (m *Mapping) Release(n int) {}

// Close does nothing.
func (m *Mapping) Close() error { return nil }
