//go:build !linux

package seccomp

import (
	"fmt"
	"os"
)

func childMain(mode string) int {
	fmt.Fprintf(os.Stderr, "child mode %s needs linux\n", mode)
	return 2
}
