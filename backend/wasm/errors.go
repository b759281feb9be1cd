package wasm

import "errors"

var (
	// ErrNotWasm is returned by Start when Args[0] does not name a
	// WebAssembly module.
	ErrNotWasm = errors.New("not a wasm module")
	// ErrStopped is returned by Start after Stop.
	ErrStopped = errors.New("sandbox stopped")
)
