package seccomp

import "errors"

var (
	// ErrUnknownProfile is returned by Build for a name other than "basic"
	// or "strict".
	ErrUnknownProfile = errors.New("unknown seccomp profile")
	// ErrUnsupportedArch is returned by Build on an architecture without a
	// syscall table here (only amd64 and arm64 have one).
	ErrUnsupportedArch = errors.New("no seccomp syscall table for this architecture")
	// ErrNoNewPrivs is returned by Apply when the calling thread has not set
	// PR_SET_NO_NEW_PRIVS: without it the kernel refuses an unprivileged
	// filter, and a privileged one could be dropped by a setuid execve.
	ErrNoNewPrivs = errors.New("no_new_privs is not set on the calling thread")
	// ErrUnsupported is returned by Apply where seccomp does not exist
	// (every OS but Linux).
	ErrUnsupported = errors.New("seccomp is not supported on this platform")
)
