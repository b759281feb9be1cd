// Package probe checks, from inside a sandbox, that what the sandbox
// claims to enforce is really in force, and turns the evidence into a
// verified strength score.
//
// The battery ([Checks]) runs inside the sandbox ([Run]): namespaces,
// capabilities, no_new_privs, the seccomp mode and a sweep of dangerous
// syscalls, Landlock, writable and read-only paths, host processes, files
// and environment, /proc and /sys exposure, device nodes, leaked file
// descriptors, network reachability and resource limits. The host side
// prepares markers for it ([HostInfo]: its namespace inodes, its pid, a
// marker file, a marker environment variable, a loopback TCP listener and
// an abstract unix socket) and afterwards [Evaluate]s the results against
// the sandbox's claimed [backend.Enforced]: every check backs one score
// modifier, and a modifier whose expected checks fail is not counted in
// the verified score. Expectations come from the claim, so a sandbox that
// claims host networking is expected to fail the network-off checks.
//
// Several checks make syscalls (mount, swapon, reboot, kexec_load …) that
// would change the machine if they ran with real privileges on the host.
// Each uses arguments that make the call harmless even where it is
// allowed, and [Run] refuses to do anything unless it is inside a sandbox
// ([Guard]): its pid namespace must differ from the host's and from the
// initial one, no kernel thread may be visible, and it must not hold
// capabilities in the host's user namespace.
//
// The package's parsers (/proc/self/status, namespace links, uid maps,
// cgroup files) are pure and tested with fixtures; the checks themselves
// are Linux-only.
package probe
