package landlock_test

import (
	"fmt"

	"github.com/kavach-go/kavach/internal/landlock"
)

// HandledFS grows with the kernel's Landlock ABI: refer (2), truncate (3)
// and device ioctls (5).
func ExampleHandledFS() {
	for _, abi := range []int{1, 2, 3, 5} {
		fmt.Printf("ABI %d: %#x\n", abi, landlock.HandledFS(abi))
	}
	// Output:
	// ABI 1: 0x1fff
	// ABI 2: 0x3fff
	// ABI 3: 0x7fff
	// ABI 5: 0xffff
}
