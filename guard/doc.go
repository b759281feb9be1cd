// Package guard holds kavach's runtime guards: checks made on a command
// before it runs (blocked commands, sensitive paths, shell
// metacharacters), on a sandbox while or after it runs (fork bomb from the
// cgroup pids counters, time anomaly), and from inside a sandbox
// (namespace integrity).
//
// Every check returns all the Violations it found, never only the first.
// A Violation never stops anything by itself: Config.Deny names the
// violation types that refuse an exec (Config.Enforce), and every
// violation feeds the threat score (package threat) with the severity
// SeverityOf gives its type.
//
// Commands are argv ([]string), not shell strings. The original kavach
// split a shell string; here:
//
//   - The blocklist compares the basename of argv[0] exactly. When argv[0]
//     is a known wrapper (env, nice, nohup, timeout, setsid, stdbuf,
//     ionice, chroot, taskset, chrt, flock, su, busybox, sudo, doas,
//     time, xargs), the command it wraps is checked too, so "/usr/bin/env
//     python3" is caught where the original missed it. The first word of
//     every simple command in a shell -c script (and in the script of
//     flock -c and su -c) is checked as well.
//   - Sensitive paths are searched in every argument, lower-cased, both
//     as written and after path cleaning ("/etc//shadow",
//     "/etc/./shadow"); a directory pattern such as "/root/" also matches
//     an argument that ends in "/root". Relative paths cannot be resolved
//     without the working directory and are matched only as written.
//   - Shell metacharacters only mean something when a shell parses the
//     string. They are searched only in the script of a shell invoked
//     with -c (sh -c SCRIPT, bash -ec SCRIPT, fish --command SCRIPT),
//     wherever that shell appears in argv ("find . -exec sh -c SCRIPT"),
//     and in the scripts that flock -c and su -c pass to a shell.
//     An argument to any other program is passed to execve verbatim, so
//     "echo '$(id)'" is not a violation.
//
// The pure checks (CheckCommand, CheckForkBomb, CheckPids,
// CheckTimeAnomaly) do no I/O and are safe for concurrent use.
package guard
