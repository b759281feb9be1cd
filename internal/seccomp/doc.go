// Package seccomp compiles kavach's two seccomp profiles, basic and
// strict, into classic BPF and installs them, in pure Go (no cgo, no
// libseccomp).
//
// The process backend calls Build and then Apply in the sandbox's last
// stage, after PR_SET_NO_NEW_PRIVS and the capability drop, just before
// execve:
//
//	f, err := seccomp.Build(policy.Profile())  // cached per profile
//	...
//	err = f.Apply()                            // every thread, irreversible
//	enforced.Seccomp, enforced.SeccompRules = f.Profile(), f.Rules()
//
// # Both profiles
//
// A syscall from another architecture's ABI (i386 through int 0x80 on
// x86_64, AArch32 on arm64) and, on x86_64, any number from 1<<30 up other
// than -1 (the x32 ABI sets bit 30) kill the process with SIGSYS: the
// rules are written for native numbers, and a foreign ABI would reach the
// same kernel code under other numbers.
//
// These syscalls fail with EPERM in both profiles, grouped by why:
//
//	group                          syscalls
//	kavach 1.0's 17                ptrace mount umount2 reboot kexec_load init_module delete_module
//	                               pivot_root swapon swapoff acct settimeofday sethostname
//	                               setdomainname io_uring_setup io_uring_enter io_uring_register
//	loading kernel code            kexec_file_load finit_module
//	new mount API                  fsopen fsconfig fsmount fspick move_mount open_tree open_tree_attr mount_setattr
//	file handles (path bypass)     open_by_handle_at name_to_handle_at
//	joining namespaces             setns
//	other processes' memory        process_vm_readv process_vm_writev process_madvise pidfd_getfd kcmp
//	                               migrate_pages move_pages
//	exploit-prone subsystems       bpf perf_event_open userfaultfd (and io_uring above)
//	kernel keyring (global)        keyctl add_key request_key
//	host clocks and logs           clock_settime clock_adjtime adjtimex syslog lookup_dcookie fanotify_init
//	host quotas, nfsd, tty         quotactl quotactl_fd nfsservctl vhangup
//	x86 I/O ports and LDT          iopl ioperm modify_ldt (x86_64 only)
//	obsolete                       uselib _sysctl (x86_64 only)
//
// and these depend on their arguments:
//
//	clone3       ENOSYS always: its flags are in memory, where a filter cannot
//	             look, and glibc falls back to clone, whose flags it can see
//	clone        EPERM with any CLONE_NEW* flag (namespaces), else allowed
//	unshare      EPERM with any CLONE_NEW* flag including CLONE_NEWTIME, else allowed
//	socket       EPERM for AF_PACKET; AF_VSOCK (not confined by the network
//	             namespace: inside a VM it reaches the host); AF_NETLINK except
//	             NETLINK_ROUTE; MPTCP (IPPROTO_MPTCP, outside Landlock's TCP
//	             rules); SOCK_RAW on AF_INET/AF_INET6. basic allows every other
//	             family; strict allows only AF_UNIX, AF_INET and AF_INET6 and
//	             refuses the rest (AF_ALG, AF_BLUETOOTH, AF_XDP, ...)
//	personality  allowed only for PER_LINUX (0) and the 0xffffffff query;
//	             EPERM for PER_LINUX32, ADDR_NO_RANDOMIZE and the rest
//	ioctl        EPERM for TIOCSTI and TIOCLINUX (typing into a terminal), else allowed
//
// Arguments are compared on their low 32 bits: every argument checked is an
// int or unsigned int in the kernel, or truncated to 32 bits before use, so
// high bits cannot slip past a check.
//
// # basic
//
// Default allow; the lists above.
//
// # strict
//
// Default ENOSYS ("no such syscall"), so libcs and runtimes fall back from a
// newer syscall to an older one instead of failing; the lists above keep
// their actions; and an allowlist taken from strace of dash, coreutils,
// python3, static and dynamic Go binaries and glibc programs, plus the
// variants of those calls: file I/O, metadata, directories, xattrs, polling,
// memory, process and thread management, signals, credentials (without
// capabilities), time, limits, sockets, and System V IPC. The list is the
// allowed variable in profile.go. kavach 1.0's 43-syscall allowlist lacked
// openat, newfstatat, rseq, prlimit64, getrandom, pread64, arch_prctl and
// set_robust_list, so no dynamically linked program got past its loader.
//
// # Size and cost
//
// On amd64, basic has 64 rules and compiles to 195 instructions, strict 332
// rules and 258 instructions (arm64: 59/196 and 291/251). The program is a
// binary search over runs of syscall numbers that share an action, so a
// syscall runs about a dozen instructions, and so does the kernel's
// emulation of the filter for each syscall number when it is installed,
// which is most of Apply's cost (about 60-90 µs here; a linear program of
// the same rules would take several hundred). Build caches the compiled
// program per profile.
//
// The syscall tables for amd64 and arm64 are generated from
// golang.org/x/sys by mksystab.go (go generate), for both architectures in
// every build, so the tests check both programs on either machine.
package seccomp
