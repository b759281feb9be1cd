// Package policy describes what a sandbox must enforce.
//
// A [Policy] is pure data with the JSON field names of kavach 1.0's
// SandboxPolicy (seccomp_enabled, seccomp_profile, landlock_rules,
// network, read_only_rootfs, memory_limit_mb, cpu_limit, max_pids,
// data_dir), so policy files written for the original load unchanged.
// kavach adds mounts, timeout_ms, tmp_size_mb and best_effort.
//
// Policies come from the presets [Minimal], [Basic] and [Strict], or from
// JSON and TOML files ([Load], [Parse]). [Policy.Validate] names the field
// and value at fault. Nothing here does I/O except [Load]; downgrades
// never happen here: a backend applies a policy strictly, or, only when
// BestEffort is set, applies what it can and reports what it enforced.
package policy
