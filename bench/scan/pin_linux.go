package main

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// pinToCPU restricts the calling thread, and so every process it starts
// from now on, to CPU cpu. The caller must stay on its thread.
func pinToCPU(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// lastCPU is the highest CPU this process may run on: the one-core runs
// use it, away from CPU 0 where most interrupts land.
func lastCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	last := 0
	for c := range 1024 {
		if set.IsSet(c) {
			last = c
		}
	}
	return last
}
