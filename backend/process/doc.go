// Package process is kavach's default backend: Linux namespaces, a fresh
// root filesystem, cgroups, Landlock and seccomp around an ordinary
// process, started about as fast as bubblewrap.
//
// Every started command gets a fresh init (this binary re-executed through
// package reexec) as pid 1 of new user, pid, mount, network, uts, ipc and
// cgroup namespaces. The init builds a tmpfs root with read-only binds of
// the host's /usr (and /bin, /sbin, /lib* as the host lays them out), a
// minimal /etc, a private /dev, a new /proc with sensitive files masked, the
// sandbox's /tmp and workdir, pivots into it and runs the command through
// a last stage that sets no_new_privs, drops every capability, applies
// Landlock and then seccomp. When the command exits, the init kills
// whatever it left behind in the pid namespace.
//
// A sandbox (Create) owns a cgroup, a workdir and a /tmp that persist
// across the commands it starts. Programs that use this backend must call
// reexec.Init (or kavach.Init) first thing in main and in TestMain.
//
// # Identity
//
// When kavach runs as root, the init runs as uid 0 inside, mapped to the
// unprivileged host uid HostIDBase, and the command runs as uid and gid
// SandboxUID (1000, user "sandbox") inside, mapped to HostIDBase+1000: no
// file on the host belongs to either. Unprivileged, the only uid that can
// be mapped is the caller's own: it becomes uid 0 inside, and the command
// keeps uid 0 without any capability (securebits noroot, locked).
package process
