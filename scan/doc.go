// Package scan finds secrets, dangerous code and personal data in the
// output of sandboxed commands, and decides through a gate whether that
// output may leave the sandbox (Pass, Warn with redaction, Quarantine or
// Block).
//
// Scanners are pure functions over []byte: no I/O, no context, safe for
// concurrent use.
package scan
