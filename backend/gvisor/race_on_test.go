//go:build race

package gvisor_test

// leakRuns is the number of commands TestNoLeaks runs. Under the race
// detector the container init is a race-instrumented binary that starts
// several times slower, so the count is cut to keep CI's test time modest;
// a plain `go test` runs the full hundred.
const leakRuns = 20
