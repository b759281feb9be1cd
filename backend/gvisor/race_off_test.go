//go:build !race

package gvisor_test

// leakRuns is the number of commands TestNoLeaks runs.
const leakRuns = 100
