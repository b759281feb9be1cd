package seccomp

import (
	"strconv"
	"sync"
)

// seccompAction is a seccomp return value (SECCOMP_RET_*): what the kernel does
// with a syscall the filter has looked at.
type seccompAction uint32

// Seccomp return values from linux/seccomp.h.
const (
	actionKillProcess seccompAction = 0x80000000
	actionAllow       seccompAction = 0x7fff0000
	actionErrno       seccompAction = 0x00050000

	// actionEPERM makes a syscall fail with EPERM, the errno a process gets
	// when it lacks a privilege, which is what callers already handle.
	actionEPERM = actionErrno | 1
	// actionENOSYS makes a syscall fail as if the kernel did not have it,
	// which makes libcs and runtimes fall back to an older syscall (clone3
	// to clone, faccessat2 to faccessat, statx to newfstatat).
	actionENOSYS = actionErrno | 38
)

// String names the action for test failures and docs.
func (a seccompAction) String() string {
	switch {
	case a == actionKillProcess:
		return "KILL_PROCESS"
	case a == actionAllow:
		return "ALLOW"
	case a == actionEPERM:
		return "EPERM"
	case a == actionENOSYS:
		return "ENOSYS"
	case a&0xffff0000 == actionErrno:
		return "ERRNO(" + strconv.FormatUint(uint64(a&0xffff), 10) + ")"
	}
	return "ACTION(0x" + strconv.FormatUint(uint64(a), 16) + ")"
}

// cond matches when the low 32 bits of argument arg, masked with mask,
// equal value. Every argument the profiles inspect is an int or an
// unsigned int in the kernel (socket's domain, type and protocol, ioctl's
// request, personality's persona), or is truncated to its low 32 bits
// before use (clone's flags); unshare rejects high bits with EINVAL. So the
// low word is exactly what the kernel acts on, and the high word cannot be
// used to slip past a check.
type cond struct {
	arg   uint8
	mask  uint32
	value uint32
}

// clause is a conjunction of conditions and the action taken when all hold.
type clause struct {
	conds  []cond
	action seccompAction
}

// rule says what one syscall gets: the action of the first clause whose
// conditions all hold, else action.
type rule struct {
	name    string
	clauses []clause
	action  seccompAction
}

// profile is the declarative form of a filter: rules for named syscalls
// and a default for every other syscall number.
type profile struct {
	name  string
	def   seccompAction
	rules []rule
}

func eq(arg uint8, value uint32) cond { return cond{arg: arg, mask: 0xffffffff, value: value} }

func masked(arg uint8, mask, value uint32) cond { return cond{arg: arg, mask: mask, value: value} }

func when(action seccompAction, conds ...cond) clause { return clause{conds: conds, action: action} }

func all(action seccompAction, names ...string) []rule {
	rs := make([]rule, len(names))
	for i, n := range names {
		rs[i] = rule{name: n, action: action}
	}
	return rs
}

// Constants from the uapi headers, the same on amd64 and arm64.
const (
	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000
	cloneNewTime   = 0x00000080

	// cloneNSFlags are the namespace flags clone takes. CLONE_NEWTIME is
	// not among them: in clone's flags its bit is part of the exit signal.
	cloneNSFlags = cloneNewNS | cloneNewCgroup | cloneNewUTS | cloneNewIPC | cloneNewUser | cloneNewPID | cloneNewNet
	// unshareNSFlags adds CLONE_NEWTIME, which unshare does take.
	unshareNSFlags = cloneNSFlags | cloneNewTime

	afUnix       = 1
	afInet       = 2
	afInet6      = 10
	afNetlink    = 16
	afPacket     = 17
	afVsock      = 40
	sockRaw      = 3
	sockTypeMask = 0xf // SOCK_TYPE_MASK: type without SOCK_CLOEXEC/SOCK_NONBLOCK
	ipprotoMPTCP = 262
	netlinkRoute = 0

	perLinux         = 0
	personalityQuery = 0xffffffff

	tiocsti   = 0x5412
	tioclinux = 0x541c
)

// denied lists the syscalls both profiles refuse with EPERM, grouped by the
// attack surface they open. See doc.go for the table.
var denied = concat(
	// The original's 17 syscalls (kavach 1.0 "basic").
	all(actionEPERM, "ptrace", "mount", "umount2", "reboot", "kexec_load", "init_module", "delete_module",
		"pivot_root", "swapon", "swapoff", "acct", "settimeofday", "sethostname", "setdomainname",
		"io_uring_setup", "io_uring_enter", "io_uring_register"),
	// Loading kernel code.
	all(actionEPERM, "kexec_file_load", "finit_module"),
	// The new mount API: every mount(2) capability through another door.
	all(actionEPERM, "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr"),
	// File handles resolve an inode without a path, past mounts and Landlock
	// (the "shocker" container escape).
	all(actionEPERM, "open_by_handle_at", "name_to_handle_at"),
	// Joining another namespace; the fd names its type, so no flag check
	// can make it safe.
	all(actionEPERM, "setns"),
	// Reading or changing another process: ptrace's relatives.
	all(actionEPERM, "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
		"migrate_pages", "move_pages"),
	// The largest sources of kernel exploits reachable without privilege.
	all(actionEPERM, "bpf", "perf_event_open", "userfaultfd"),
	// The kernel keyring is not namespaced.
	all(actionEPERM, "keyctl", "add_key", "request_key"),
	// Host-wide clocks and logs.
	all(actionEPERM, "clock_settime", "clock_adjtime", "adjtimex", "syslog", "lookup_dcookie", "fanotify_init"),
	// Quotas, the NFS server, swap and tty hangup act on the host.
	all(actionEPERM, "quotactl", "quotactl_fd", "nfsservctl", "vhangup"),
	// x86 I/O ports and the LDT (amd64 only; absent names are skipped).
	all(actionEPERM, "iopl", "ioperm", "modify_ldt"),
	// Obsolete interfaces with a history of bugs.
	all(actionEPERM, "uselib", "_sysctl"),
)

// conditional lists the syscalls whose verdict depends on their arguments,
// shared by both profiles.
var conditional = []rule{
	// clone3 passes its flags in memory, where seccomp cannot read them, so
	// it fails with ENOSYS and glibc (2.34+) falls back to clone, whose flags
	// are in a register.
	{name: "clone3", action: actionENOSYS},
	// clone and unshare may not create namespaces: a new user namespace
	// hands out a full capability set over it, the door to most
	// unprivileged kernel exploits. Threads and fork stay allowed.
	{name: "clone", action: actionEPERM, clauses: []clause{
		when(actionAllow, masked(0, cloneNSFlags, 0)),
	}},
	{name: "unshare", action: actionEPERM, clauses: []clause{
		when(actionAllow, masked(0, unshareNSFlags, 0)),
	}},
	// personality can turn off ASLR (ADDR_NO_RANDOMIZE) or switch to
	// PER_LINUX32 and other legacy personas; only the default persona and
	// the 0xffffffff query are allowed.
	{name: "personality", action: actionEPERM, clauses: []clause{
		when(actionAllow, eq(0, perLinux)),
		when(actionAllow, eq(0, personalityQuery)),
	}},
	// TIOCSTI pushes characters into a terminal's input queue, which types
	// commands into the caller's shell if the sandbox shares its tty;
	// TIOCLINUX can do the same on a virtual console.
	{name: "ioctl", action: actionAllow, clauses: []clause{
		when(actionEPERM, eq(1, tiocsti)),
		when(actionEPERM, eq(1, tioclinux)),
	}},
}

// socketDenied are the socket families and protocols both profiles refuse.
var socketDenied = []clause{
	// Packet sockets see and forge every frame on an interface.
	when(actionEPERM, eq(0, afPacket)),
	// vsock is not confined by the network namespace: inside a VM it
	// reaches the hypervisor's and the host agent's listeners.
	when(actionEPERM, eq(0, afVsock)),
	// Netlink: only NETLINK_ROUTE (glibc's getaddrinfo, Go's
	// net.Interfaces). SOCK_RAW and SOCK_DGRAM are the same thing for
	// netlink, so the protocol is checked, not the type; netfilter, xfrm,
	// audit and the rest are refused.
	when(actionAllow, eq(0, afNetlink), eq(2, netlinkRoute)),
	when(actionEPERM, eq(0, afNetlink)),
	// MPTCP is outside Landlock's TCP connect/bind rules.
	when(actionEPERM, eq(0, afInet), eq(2, ipprotoMPTCP)),
	when(actionEPERM, eq(0, afInet6), eq(2, ipprotoMPTCP)),
	// Raw IP forges packets; it needs CAP_NET_RAW, which is dropped, and
	// is refused here too in case a capability survives.
	when(actionEPERM, eq(0, afInet), masked(1, sockTypeMask, sockRaw)),
	when(actionEPERM, eq(0, afInet6), masked(1, sockTypeMask, sockRaw)),
}

// basicSocket allows every family but socketDenied's.
var basicSocket = rule{name: "socket", action: actionAllow, clauses: socketDenied}

// strictSocket allows only AF_UNIX, AF_INET and AF_INET6 (less
// socketDenied's) and netlink route sockets; every other family (AF_ALG,
// AF_BLUETOOTH, AF_XDP, ...) gets EPERM.
var strictSocket = rule{name: "socket", action: actionEPERM, clauses: concatClauses(socketDenied, []clause{
	when(actionAllow, eq(0, afUnix)),
	when(actionAllow, eq(0, afInet)),
	when(actionAllow, eq(0, afInet6)),
})}

func concatClauses(groups ...[]clause) []clause {
	var out []clause
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func concat(groups ...[]rule) []rule {
	var out []rule
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// allowed is the strict profile's allowlist: what sh (dash), coreutils,
// python3, and Go and glibc binaries were seen to call under strace, plus
// the neighbours a real program reaches for (the other variant of a call it
// makes, or the call a libc falls back to). Names an architecture lacks (open
// and stat on arm64) are skipped there.
var allowed = []string{
	// File I/O.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
	"lseek", "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3",
	"fcntl", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "truncate", "ftruncate",
	"fallocate", "fadvise64", "readahead", "sendfile", "splice", "tee", "copy_file_range",
	// Metadata and directories.
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getcwd", "chdir", "fchdir", "getdents", "getdents64", "umask",
	"chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
	"utime", "utimes", "utimensat", "futimesat",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
	"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
	"setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
	// Waiting for events.
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd", "signalfd4",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "pipe", "pipe2",
	// Memory.
	"mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "msync", "mincore",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier", "memfd_create",
	"get_mempolicy", "set_mempolicy", "mbind", "pkey_mprotect", "pkey_alloc", "pkey_free",
	"map_shadow_stack", "mseal",
	// Processes and threads (clone is conditional, below).
	"execve", "execveat", "exit", "exit_group", "wait4", "waitid", "fork", "vfork",
	"kill", "tgkill", "tkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
	"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "restart_syscall",
	"futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
	"arch_prctl", "prctl", "pidfd_open", "pidfd_send_signal",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
	"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "sched_getattr", "getpriority", "setpriority", "getcpu",
	// Restricting oneself further is always allowed.
	"capget", "capset", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	// Signals.
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigsuspend",
	"rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "pause", "alarm",
	// Credentials: without capabilities these only reach the caller's own ids.
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
	// Time.
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "times",
	"getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
	// Limits and system information.
	"uname", "sysinfo", "getrlimit", "setrlimit", "prlimit64", "getrusage", "getrandom",
	// Sockets (socket itself is conditional, below); the network namespace
	// and Landlock decide where they can reach.
	"socketpair", "connect", "bind", "listen", "accept", "accept4", "getsockname", "getpeername",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
	// System V IPC, private to the sandbox's IPC namespace.
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
	"msgget", "msgsnd", "msgrcv", "msgctl",
}

// profiles holds the two profiles by name. It is built on first use: the
// strict profile alone is a few hundred rules, and only a process that
// compiles a filter needs them, while every kavach process links this
// package.
var profiles = sync.OnceValue(func() map[string]*profile {
	return map[string]*profile{
		// basic allows everything but the kernel attack surface.
		"basic": {
			name:  "basic",
			def:   actionAllow,
			rules: concat(denied, conditional, []rule{basicSocket}),
		},
		// strict allows only what real programs need. Unknown syscalls fail
		// with ENOSYS so a libc falls back to an older call; the denied list
		// keeps its EPERM.
		"strict": {
			name:  "strict",
			def:   actionENOSYS,
			rules: concat(denied, conditional, []rule{strictSocket}, all(actionAllow, allowed...)),
		},
	}
})
