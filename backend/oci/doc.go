// Package oci is the OCI container backend: every command runs as a
// container of crun (preferred) or runc, from a real bundle written with
// the opencontainers/runtime-spec types (see internal/bundle).
//
// The root is built on demand from the host's binaries (/usr and friends
// bound read-only, a generated /etc), or is a directory given with
// WithRootfs. Each container gets its own pid, mount, ipc, uts and cgroup
// namespaces, a network namespace with only loopback unless the policy
// allows the network, no capabilities at all, no_new_privs, runc's masked
// and read-only /proc paths, a read-only root when the policy asks, the
// policy's cgroup limits (memory without swap, pids, cpu) and kavach's
// own seccomp filter, installed by a tiny init of kavach's binary just
// before the command's execve.
//
// There is no user namespace: the command is uid 0 without any
// capability. Mapping it to an unprivileged host uid would make the
// caller's read-write mounts and workdir unwritable unless they were
// chowned. The capability-free uid 0 cannot mount, load modules, trace,
// or override permissions (no CAP_DAC_OVERRIDE), though it still owns
// root-owned files on the read-write mounts it is given. Enforced.UID
// says 0.
//
// The container's own cgroups are mounted read-only at /sys/fs/cgroup, as
// in runc's default spec, so the init can report OOM kills
// (ExitStatus.OOM) and `kavach verify` can see the limits.
//
// crun refuses to run on a cgroup v1 "hybrid" host where any controller
// is still attached to the unified (v2) hierarchy, as hugetlb is on
// Debian's default. Available then says so and gives the command that
// moves the controller to a v1 hierarchy of its own; runc has no such
// restriction and is used instead when present.
package oci
