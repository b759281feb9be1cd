// Package gvisor is the gVisor backend: every command runs as a container
// of runsc, gVisor's OCI runtime, whose sentry is a user-space kernel that
// serves the command's system calls itself, so the host kernel sees only
// the sentry's small, seccomp-confined set.
//
// The bundle is the oci backend's (see internal/bundle): a root built from
// the host's binaries or a given directory, fresh namespaces, no
// capabilities, no_new_privs, masked /proc paths, cgroup limits, and
// kavach's seccomp filter installed by kavach's init before the command's
// execve; the sentry implements seccomp-bpf for the programs it runs, so
// the filter applies inside gVisor too.
//
// runsc runs on the systrap platform, or on ptrace where systrap is
// missing (runsc releases before 2023, such as Debian 12's). The network
// is runsc's --network=none (loopback only) unless the policy allows it,
// then --network=host.
package gvisor
