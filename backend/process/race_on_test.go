//go:build race

package process_test

// raceEnabled is true in -race builds, whose runtime takes about a second
// to start on every sandbox init; tests then run fewer sandboxes.
const raceEnabled = true
