package main

import (
	"os"
	"syscall"
)

// maxRSS returns the peak resident set size of a finished process in bytes
// (Linux reports ru_maxrss in KiB).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}
