package reexec

// Self returns the path that re-executes the running binary. On Linux it
// is /proc/self/exe, which still works when the binary was replaced or
// deleted on disk after the program started.
func Self() string { return "/proc/self/exe" }
