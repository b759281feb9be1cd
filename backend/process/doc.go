// Package process is kavach's default backend: Linux namespaces, a fresh
// root filesystem, cgroups, Landlock and seccomp around an ordinary
// process, started about as fast as bubblewrap.
//
// Every started command gets a fresh init (this binary re-executed through
// package reexec, running internal/procinit) as pid 1 of new user, pid,
// mount, network, uts, ipc and
// cgroup namespaces. The init builds a tmpfs root with read-only binds of
// the host's /usr (and /bin, /sbin, /lib* as the host lays them out), a
// minimal /etc, a private /dev, a new /proc with sensitive files masked, the
// sandbox's /tmp and workdir, pivots into it and runs the command through
// a last stage that sets no_new_privs, drops every capability, applies
// Landlock and then seccomp. When the command exits, the init kills
// whatever it left behind in the pid namespace.
//
// Everything of the init that does not depend on the command — the
// namespaces, the cgroup, the root — is done ahead: a sandbox keeps one
// spare init waiting for a command, started after Create and, once the
// sandbox has run a second command, after each command, so that a
// command in a ready sandbox starts in a few milliseconds. The last stage
// stays per command, except for a spare: it restricts its thread (all of
// the last stage but the command's lookup and exec) before it reports
// ready.
//
// A sandbox (Create) owns a cgroup, a workdir and a /tmp that persist
// across the commands it starts. Programs that use this backend should call
// reexec.Init (or kavach.Init) first thing in main and in TestMain; the
// init role itself is dispatched earlier still, by internal/procinit's
// package initialiser, so a sandbox init skips most of the program's
// package initialisation.
//
// # Layout
//
// Inside, / is a read-only tmpfs holding: read-only binds of the host's
// /usr, /bin, /sbin, /lib* (as binds or as the host's merged-/usr
// symlinks) and of /etc/ld.so.cache, /etc/ssl, /etc/ca-certificates and
// /etc/alternatives; generated /etc/passwd, group, hosts, hostname,
// nsswitch.conf and resolv.conf; a /dev with null, zero, full, random,
// urandom and tty bound from the host plus a private devpts and /dev/shm;
// a new /proc with kcore, keys, timer_list and sysrq-trigger masked and
// /proc/sys read-only; no /sys. /tmp is the sandbox's own size-limited
// tmpfs (TmpSizeMB, default 64 MiB), kept across its commands; the
// workdir is mounted read-write at WorkdirPath; data_dir at its own path;
// policy mounts where they ask; Spec.Files on the root tmpfs, never on
// the host's disk. The root is always read-only, so Enforced reports
// ReadOnlyRoot whatever the policy asked.
//
// Landlock rules follow the same layout: / read and execute, /dev files
// read-write (no creating), /dev/shm, /dev/pts, /tmp, the workdir and
// data_dir read-write, each mount as mounted, plus the policy's own
// landlock_rules (a missing path fails the start). With the host's
// network, allowed_ports become TCP rules (ABI 4): connect to those remote
// ports and bind to those local ports only, nothing else. From ABI 6 abstract
// unix sockets and signals are scoped to the sandbox.
//
// # Identity
//
// When kavach runs as root, the init runs as uid 0 inside, mapped to the
// unprivileged host uid HostIDBase, and the command runs as uid and gid
// SandboxUID (1000, user "sandbox") inside, mapped to HostIDBase+1000: no
// file on the host belongs to either. Unprivileged, the only uid that can
// be mapped is the caller's own: it becomes uid 0 inside, and the command
// keeps uid 0 without any capability (securebits noroot, locked).
//
// As root, a host directory given as Spec.Workdir, data_dir or a
// read-write mount is written as host uid HostIDBase+1000: it must be
// writable (and every directory above it searchable) by that uid. A fresh
// workdir is made that way by Create.
package process
