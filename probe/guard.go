package probe

import "fmt"

// maxSandboxPID bounds the probe's own pid: a process started early in a
// fresh pid namespace has a small pid, while on a host it rarely has.
const maxSandboxPID = 1000

// GuardFacts are what Guard decides on, as seen by the probe.
type GuardFacts struct {
	PID      int    // getpid()
	PIDNS    uint64 // inode of /proc/self/ns/pid
	UserNS   uint64 // inode of /proc/self/ns/user
	CapEff   uint64 // effective capabilities
	HostPID  uint64 // the host's pid namespace inode (from HostInfo)
	HostUser uint64 // the host's user namespace inode (from HostInfo)
}

// Guard decides whether the probe may run its battery: only inside a
// sandbox. The probe's pid namespace must be known and differ from the
// host's, its pid must be small (it was started early in a fresh pid
// namespace), and if it shares the host's user namespace it must hold no
// capability, since only then can the syscall sweep not change the host.
// The error wraps ErrNotSandboxed and says which condition failed.
func Guard(f GuardFacts) error {
	switch {
	case f.HostPID == 0 || f.HostUser == 0:
		return fmt.Errorf("%w: the host's pid and user namespaces are not known", ErrNotSandboxed)
	case f.PIDNS == 0 || f.UserNS == 0:
		return fmt.Errorf("%w: cannot read this process's namespaces", ErrNotSandboxed)
	case f.PIDNS == f.HostPID:
		return fmt.Errorf("%w: running in the host's pid namespace (inode %d)", ErrNotSandboxed, f.PIDNS)
	case f.PID <= 0 || f.PID >= maxSandboxPID:
		return fmt.Errorf("%w: pid %d is not that of a process started early in a fresh pid namespace", ErrNotSandboxed, f.PID)
	case f.UserNS == f.HostUser && f.CapEff != 0:
		return fmt.Errorf("%w: holds capabilities %#x in the host's user namespace", ErrNotSandboxed, f.CapEff)
	}
	return nil
}
