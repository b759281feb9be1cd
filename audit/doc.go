// Package audit keeps a tamper-evident, append-only log of sandbox events:
// an HMAC-SHA256 chain in JSON Lines, byte-compatible with kavach 1.0's
// AuditChain, so a log written by the Rust crate verifies here and a log
// written here verifies with the Rust crate.
//
// Each line is one record, fields in this order:
//
//	{"serial":0,"event_type":"genesis","payload":{"message":"audit chain initialized"},"timestamp":"2026-03-25T12:00:00.123456789+00:00","hmac":"<64 hex>","prev_hmac":""}
//
// and its hmac is lower-case hex of HMAC-SHA256(key, input) where input is
// the UTF-8 string
//
//	serial ":" event_type ":" canonical(payload) ":" timestamp ":" prev_hmac
//
// canonical(payload) is what serde_json writes for the payload after
// parsing it into a serde_json::Value (sorted keys, compact, serde_json's
// string escapes and number formatting); canonical.go documents every rule
// that is reproduced. prev_hmac is the previous record's hmac, "" for the
// first one. The tests check this against Rust itself: testdata/serderef
// (serde_json 1.0.87, hmac 0.12, sha2 0.10) produced the reference outputs
// and a log that verifies here, and accepted a log written here.
//
// On top of the original format, kavach adds:
//
//   - an exclusive flock(2) around every append, so many goroutines and
//     many processes can append to one log without forking the chain;
//   - fsync before Append returns, with group commit: concurrent appends
//     share one write and one fsync;
//   - mode 0600 for the log and its checkpoint;
//   - constant-time comparison of HMACs;
//   - a signed checkpoint, <log>.checkpoint, holding the record count and
//     the last hmac, rewritten in place after every group (and fsynced in
//     the background), so truncating the tail is detected. It is keyed with the
//     same key under a distinct prefix and does not name the log's path, so a
//     log copied together with its checkpoint still verifies. A log without
//     a checkpoint verifies with a warning that truncation cannot be checked;
//   - strict encoding: every line must be exactly what the writer (Rust or
//     Go) produces for that record, so no byte can change without detection,
//     including changes serde_json would have parsed to the same value
//     ("1.0" → "1e0"), blank lines and a missing final newline.
//
// What a chain cannot show: anyone who holds the key can rewrite the whole
// log and its checkpoint, and an old copy of log and checkpoint together is
// a valid (shorter) chain. Keep the key away from the sandboxed code, and
// ship the checkpoint's last hmac somewhere else when that matters.
package audit
