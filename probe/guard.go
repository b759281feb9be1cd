package probe

import "fmt"

// maxSandboxPID bounds the probe's own pid: a process started early in a
// fresh pid namespace has a small pid, while on a host it rarely has.
const maxSandboxPID = 1000

// The kernel gives the initial namespaces fixed inode numbers
// (PROC_PID_INIT_INO and PROC_USER_INIT_INO in linux/proc_ns.h).
const (
	initPIDNSInode  = 0xEFFFFFFC
	initUserNSInode = 0xEFFFFFFD
)

// GuardFacts are what Guard decides on, as seen by the probe.
type GuardFacts struct {
	PID      int    // getpid()
	PIDNS    uint64 // inode of /proc/self/ns/pid
	UserNS   uint64 // inode of /proc/self/ns/user
	CapEff   uint64 // effective capabilities
	HostPID  uint64 // the host's pid namespace inode (from HostInfo)
	HostUser uint64 // the host's user namespace inode (from HostInfo)
	// KernelThreads is true when kernel threads are visible (pid 2 has
	// parent 0), which happens only in the initial pid namespace.
	KernelThreads bool
	// IdentityUIDMap is true when uid_map maps every uid to itself, as in
	// the initial user namespace.
	IdentityUIDMap bool
}

// Guard decides whether the probe may run its battery: only inside a
// sandbox. The probe's pid namespace must be known and differ from the
// host's, no kernel thread may be visible, its pid must be small (it was
// started early in a fresh pid namespace), and if it shares the host's
// user namespace, or has the initial one's identity uid map, it must hold
// no capability, since only then can the syscall sweep not change the
// host. The checks that do not depend on the host's word (the initial
// namespaces' fixed inode numbers, kernel threads, the uid map) keep a
// forged HostInfo from opening the guard on a host.
// The error wraps ErrNotSandboxed and says which condition failed.
func Guard(f GuardFacts) error {
	switch {
	case f.HostPID == 0 || f.HostUser == 0:
		return fmt.Errorf("%w: the host's pid and user namespaces are not known", ErrNotSandboxed)
	case f.PIDNS == 0 || f.UserNS == 0:
		return fmt.Errorf("%w: cannot read this process's namespaces", ErrNotSandboxed)
	case f.PIDNS == f.HostPID:
		return fmt.Errorf("%w: running in the host's pid namespace (inode %d)", ErrNotSandboxed, f.PIDNS)
	case f.PIDNS == initPIDNSInode:
		return fmt.Errorf("%w: running in the initial pid namespace", ErrNotSandboxed)
	case f.KernelThreads:
		return fmt.Errorf("%w: kernel threads are visible, so this is the initial pid namespace", ErrNotSandboxed)
	case f.PID <= 0 || f.PID >= maxSandboxPID:
		return fmt.Errorf("%w: pid %d is not that of a process started early in a fresh pid namespace", ErrNotSandboxed, f.PID)
	case (f.UserNS == f.HostUser || f.UserNS == initUserNSInode || f.IdentityUIDMap) && f.CapEff != 0:
		return fmt.Errorf("%w: holds capabilities %#x in the host's user namespace", ErrNotSandboxed, f.CapEff)
	}
	return nil
}
