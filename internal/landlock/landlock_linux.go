package landlock

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	sysCreateRuleset = 444
	sysAddRule       = 445
	sysRestrictSelf  = 446

	createRulesetVersion = 1 << 0
	rulePathBeneath      = 1
	ruleNetPort          = 2
)

// rulesetAttr mirrors struct landlock_ruleset_attr; its size passed to the
// kernel depends on the ABI so that older kernels accept it.
type rulesetAttr struct {
	handledFS  uint64
	handledNet uint64
	scoped     uint64
}

// pathBeneathAttr mirrors the packed struct landlock_path_beneath_attr.
type pathBeneathAttr [12]byte

type netPortAttr struct {
	allowed uint64
	port    uint64
}

var abiOnce = sync.OnceValues(func() (int, error) {
	v, _, errno := syscall.RawSyscall(sysCreateRuleset, 0, 0, createRulesetVersion)
	if errno != 0 {
		return 0, fmt.Errorf("%w: landlock_create_ruleset version: %v", ErrUnsupported, errno)
	}
	return int(v), nil
})

// ABI returns the kernel's Landlock ABI version (cached), or an error
// wrapping ErrUnsupported when Landlock is absent or disabled.
func ABI() (int, error) { return abiOnce() }

// RestrictThread builds the ruleset and restricts the calling OS thread
// (and every process it forks afterwards) with it. The caller must hold
// runtime.LockOSThread and have set no_new_privs on this thread.
func RestrictThread(c Config) (Result, error) {
	var res Result
	kabi, err := ABI()
	if err != nil {
		return res, err
	}
	if c.ABI < 1 || c.ABI > kabi {
		return res, fmt.Errorf("%w: ABI %d asked, kernel has %d", ErrUnsupported, c.ABI, kabi)
	}
	attr := rulesetAttr{handledFS: HandledFS(c.ABI)}
	size := unsafe.Sizeof(attr.handledFS)
	if c.RestrictTCP {
		if c.ABI < 4 {
			return res, fmt.Errorf("%w: TCP rules need ABI 4, have %d", ErrUnsupported, c.ABI)
		}
		attr.handledNet = AccessNetConnectTCP | AccessNetBindTCP
	}
	if c.ABI >= 4 {
		size = 2 * unsafe.Sizeof(attr.handledFS)
	}
	if c.Scoped {
		if c.ABI < 6 {
			return res, fmt.Errorf("%w: scoping needs ABI 6, have %d", ErrUnsupported, c.ABI)
		}
		attr.scoped = ScopeAbstractUnixSocket | ScopeSignal
	}
	if c.ABI >= 6 {
		size = unsafe.Sizeof(attr)
	}
	fd, _, errno := syscall.RawSyscall(sysCreateRuleset, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return res, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	defer syscall.Close(int(fd))
	for _, r := range c.Rules {
		access := r.Access & attr.handledFS
		if access == 0 {
			continue
		}
		pfd, err := unix.Open(r.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			if r.Optional && errors.Is(err, unix.ENOENT) {
				res.Skipped = append(res.Skipped, r.Path)
				continue
			}
			return res, fmt.Errorf("landlock rule %s: %w", r.Path, err)
		}
		if !isDir(pfd) {
			// Rights that only make sense on directories are refused by
			// the kernel on files.
			access &= AccessFSExecute | AccessFSWriteFile | AccessFSReadFile | AccessFSTruncate | AccessFSIoctlDev
		}
		var pb pathBeneathAttr
		*(*uint64)(unsafe.Pointer(&pb[0])) = access
		*(*int32)(unsafe.Pointer(&pb[8])) = int32(pfd)
		_, _, errno := syscall.RawSyscall6(sysAddRule, fd, rulePathBeneath, uintptr(unsafe.Pointer(&pb)), 0, 0, 0)
		unix.Close(pfd)
		if errno != 0 {
			return res, fmt.Errorf("landlock rule %s: %w", r.Path, errno)
		}
		res.FSRules++
	}
	if c.RestrictTCP {
		for _, p := range c.Ports {
			np := netPortAttr{allowed: AccessNetConnectTCP | AccessNetBindTCP, port: uint64(p)}
			_, _, errno := syscall.RawSyscall6(sysAddRule, fd, ruleNetPort, uintptr(unsafe.Pointer(&np)), 0, 0, 0)
			if errno != 0 {
				return res, fmt.Errorf("landlock tcp port %d: %w", p, errno)
			}
			res.NetRules++
		}
	}
	// RawSyscall, not AllThreadsSyscall: only this thread is restricted.
	if _, _, errno := syscall.RawSyscall(sysRestrictSelf, fd, 0, 0); errno != 0 {
		return res, fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return res, nil
}

func isDir(fd int) bool {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR
}
