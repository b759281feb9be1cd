// Package bundle builds OCI runtime bundles and runs commands in them
// with an OCI runtime's command line (crun, runc or runsc). The oci and
// gvisor backends share it.
//
// A sandbox is a directory holding a root file system and, per command,
// a bundle whose config.json (opencontainers/runtime-spec types) points at
// that root. The root is either a directory the caller gives, or built on
// demand from the host: /usr bind-mounted read-only, the host's
// /bin, /lib... symlinks or read-only binds, and a generated /etc that
// holds no host secrets. Each command runs as its own container with
// `<runtime> run`, in fresh pid, mount, ipc, uts and cgroup namespaces
// (and a network namespace with only loopback unless the policy allows
// the network), with no capabilities, no_new_privs, masked /proc paths and
// the policy's cgroup limits.
//
// The container's pid 1 is not the command but kavach's own binary,
// bind-mounted read-only at /.kavach, in the "bundle-init" re-exec role.
// Pid 1 of a pid namespace ignores signals it has no handler for, even
// from itself, so a command run as pid 1 could not be killed by its own
// `kill -9 $$`; the init forwards signals instead, reaps, and reports how
// the command ended in a status file, because the runtime's exit code
// cannot tell "exited 137" from "killed by SIGKILL". The init starts the
// command through a second role, "bundle-exec", which installs kavach's
// seccomp filter (internal/seccomp) and then execs the command, so the
// filter is the same BPF program with every runtime, including gVisor,
// whose sentry implements seccomp for the programs it runs.
//
// The re-exec protocol, drawn once:
//
//	host: <runtime> run --bundle B ID
//	  container pid 1: /.kavach/kavach-reexec:bundle-init STATUS PROFILE INNER N ENV1..ENVN -- ARGV...
//	      (PATH=/.kavach makes the runtime find the binary by its role name,
//	      so argv[0] carries the reexec marker)
//	    child: /proc/self/exe as kavach-reexec:bundle-exec PROFILE INNER -- ARGV...
//	        with exactly ENV1..ENVN (plus the role marker, removed before exec)
//	        → [inner stage: no capabilities, Landlock] → seccomp filter
//	        → [inner stage: second seccomp filter] → execve(ARGV)
//	    (INNER is "" or a JSON InnerStage, set by the composite backend
//	    through WithInnerStage)
//	    pid 1 forwards every signal to the child, waits for it, writes
//	    "exit N" or "signal N" to STATUS ("fd:3": the write end of a host
//	    pipe the runtime passes in, close-on-exec and behind a non-dumpable
//	    pid 1, so the command can neither hold nor reach it) and exits; the
//	    kernel then kills whatever is left in the pid namespace.
//
// Programs that embed kavach must call reexec.Init first thing in main
// (and tests in TestMain) for the roles to run.
package bundle
