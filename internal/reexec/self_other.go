//go:build !linux

package reexec

import "os"

// Self returns the path that re-executes the running binary: the result
// of os.Executable, or os.Args[0] when that fails.
func Self() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return p
}
