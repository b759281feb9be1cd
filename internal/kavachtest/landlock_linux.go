package kavachtest

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// LandlockABI asks the kernel for its Landlock ABI version.
func LandlockABI() (int, error) {
	const createRulesetVersion = 1 // LANDLOCK_CREATE_RULESET_VERSION
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, createRulesetVersion)
	if errno != 0 {
		return 0, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	return int(v), nil
}
