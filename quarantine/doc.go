// Package quarantine stores outputs that the scanner gate held back, until
// a person approves and releases them, or rejects them.
//
// The layout is kavach 1.0's QuarantineStorage:
//
//	<dir>/<uuid-v4>/artifact.bin    the held bytes
//	<dir>/<uuid-v4>/metadata.json   pretty-printed JSON, the original's field names
//
// so a store written by the Rust crate can be listed and managed here. On
// top of the original, kavach checks the life cycle (Quarantined → Approved
// or Rejected, Approved → Released, nothing else), hands out the artifact
// only on release, keeps files at mode 0600 and directories at 0700, writes
// atomically (temporary file or directory, fsync, rename, fsync of the
// directory), records the artifact's size and SHA-256 and checks them on
// release, serialises changes across goroutines and processes with an
// flock(2) on <dir>/.lock, and validates every id so that none can name a
// path outside the store.
package quarantine
