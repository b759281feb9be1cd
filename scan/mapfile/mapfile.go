// Package mapfile maps a regular file into memory read-only for the
// scanner, and turns the fault of reading a mapped page that the file no
// longer has (it was truncated meanwhile) into an error instead of a
// crash.
package mapfile

import (
	"errors"
	"runtime"
	"runtime/debug"
)

// ErrNotMappable says that a file is not mapped: it is no regular file, it
// is empty (files in /proc say they are), or the platform or the file
// system does not map it. The caller reads it instead.
var ErrNotMappable = errors.New("mapfile: file not mappable")

// ErrFault says that reading the mapping faulted: the file shrank while it
// was mapped.
var ErrFault = errors.New("mapfile: the file changed while it was read (truncated?)")

// Guard runs fn, which reads a mapping, and returns ErrFault when a read
// faults rather than letting the fault kill the process. It must run fn on
// the calling goroutine: the setting it relies on
// (debug.SetPanicOnFault) is the goroutine's. Other panics go on.
func Guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		// A fault becomes a runtime.Error with the faulting address.
		if re, ok := r.(runtime.Error); ok {
			if _, ok := re.(interface{ Addr() uintptr }); ok {
				err = ErrFault
				return
			}
		}
		panic(r)
	}()
	return fn()
}
