// Package reexec lets a Go program run parts of itself in a fresh process.
//
// Go cannot run code between fork and exec, so kavach re-executes its own
// binary (/proc/self/exe) in a named role, for example the process
// backend's sandbox init. A package registers its roles with Register in
// its init function; the program calls Init first thing in main (and in
// TestMain), which runs the role this process was started in, if any, and
// exits. A process is in a role only when both its argv[0] and an
// environment variable carry the marker, so a user cannot enter a role by
// accident.
package reexec
