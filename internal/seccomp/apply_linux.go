//go:build linux

package seccomp

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Instruction must have the layout of struct sock_filter, because Apply
// hands the kernel the program in place.
var (
	_ [unsafe.Sizeof(Instruction{}) - unsafe.Sizeof(unix.SockFilter{})]byte
	_ [unsafe.Sizeof(unix.SockFilter{}) - unsafe.Sizeof(Instruction{})]byte
)

// From linux/seccomp.h.
const (
	seccompSetModeFilter   = 1
	seccompFilterFlagTSync = 1
)

// Apply installs the filter on every thread of the calling process, which
// from then on is as restricted as the programs it forks and execs. It
// requires PR_SET_NO_NEW_PRIVS on the calling thread (ErrNoNewPrivs
// otherwise): set it on a thread locked with runtime.LockOSThread and call
// Apply from that goroutine, or use syscall.AllThreadsSyscall (not
// available with cgo). The filter cannot be removed. Apply does not
// allocate.
//
// Apply uses SECCOMP_FILTER_FLAG_TSYNC because a Go process has many
// threads and the runtime may run the later execve on any of them: a
// filter on one thread only would leave the exec'd program unfiltered
// whenever execve ran elsewhere. With TSYNC the kernel also copies
// no_new_privs to the other threads.
func (f *Filter) Apply() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nnp, _, errno := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_GET_NO_NEW_PRIVS, 0, 0)
	if errno != 0 {
		return fmt.Errorf("apply seccomp %s filter: prctl(PR_GET_NO_NEW_PRIVS): %w", f.profile, errno)
	}
	if nnp != 1 {
		return fmt.Errorf("apply seccomp %s filter: %w", f.profile, ErrNoNewPrivs)
	}
	return f.install(seccompFilterFlagTSync)
}

// install calls seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).
func (f *Filter) install(flags uintptr) error {
	prog := unix.SockFprog{
		Len:    uint16(len(f.prog)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&f.prog[0])),
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, seccompSetModeFilter, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		return fmt.Errorf("apply seccomp %s filter: seccomp(SECCOMP_SET_MODE_FILTER): %w", f.profile, errno)
	}
	if r != 0 {
		// With TSYNC a positive result names a thread that could not be
		// synchronised (it has a filter not descended from ours).
		return fmt.Errorf("apply seccomp %s filter: thread %d could not be synchronised", f.profile, r)
	}
	return nil
}
