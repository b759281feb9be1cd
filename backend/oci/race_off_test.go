//go:build !race

package oci_test

// leakRuns is the number of commands TestNoLeaks runs.
const leakRuns = 100
