package kavachtest

import (
	"slices"
	"time"
)

// LeftBehind returns what list shows now that it did not before and
// still shows after grace. Leak checks list what any kavach process on
// the host has (containers, state directories), and on a shared test
// machine other processes (other packages' tests, a `kavach verify`)
// start and remove their own meanwhile; theirs go away within seconds,
// a leak of ours stays.
func LeftBehind(before []string, list func() []string, grace time.Duration) []string {
	var left []string
	for _, l := range list() {
		if !slices.Contains(before, l) {
			left = append(left, l)
		}
	}
	for deadline := time.Now().Add(grace); len(left) > 0 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		now := list()
		left = slices.DeleteFunc(left, func(l string) bool { return !slices.Contains(now, l) })
	}
	return left
}
