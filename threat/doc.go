// Package threat turns what kavach saw during an exec (scanner findings
// and guard violations) into an intent score, a kill-chain picture and an
// escalation tier, and remembers repeat offenders per agent.
//
// Classify is the original's classify (spec §5) extended to guard
// violations: with no violations it gives bit-for-bit the original's
// results, because the weights are the same float64 values added in the
// same order (findings in the order the scanners emit them).
//
// OffenderTracker is the original's OffenderTracker (one-hour window,
// weights halving every 30 minutes, threshold 3.0) made safe for
// concurrent use, persisted in a small append-only JSON-lines journal
// (one fsynced line per Record, compacted by temp file and rename), pruned,
// and enforced: an agent whose score reaches Tier3Suspend or Tier4Revoke
// stays blocked, and Check says so, until Reset.
package threat
