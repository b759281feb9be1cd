//go:build !linux

package main

import "errors"

// pinToCPU is not supported outside Linux.
func pinToCPU(int) error { return errors.New("pinning to a CPU needs Linux") }

func lastCPU() int { return 0 }
