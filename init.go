package kavach

import "github.com/kavach-go/kavach/internal/reexec"

// Init dispatches the re-executed roles of kavach's backends (the process
// backend's sandbox init). Call it first thing in main, and in TestMain
// of tests that create process sandboxes: when the binary was started as
// a sandbox init it runs that role and never returns; otherwise it
// returns at once.
func Init() { reexec.Init() }
