// Package score computes kavach's isolation strength score: one number
// from 0 to 100 with a label, and the reasons behind every point.
//
// The formula and labels are kavach 1.0's (spec §3), so numbers mean the
// same thing: a base per backend kind plus +5 seccomp, +3 Landlock rules,
// +5 network off, +3 read-only root and +2 memory or CPU limit, clamped
// to 0..100. [Policy] scores a requested policy exactly as the original
// did; [Enforced] scores only what a sandbox really applied, which is what
// kavach reports everywhere. The package is pure: no I/O.
package score
