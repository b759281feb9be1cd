// Package kavach runs untrusted commands in real isolation and tells you,
// in one number from 0 to 100, how strong that isolation is.
//
// A [Sandbox] is created from a [Config] with [Create], started with
// [Sandbox.Start], runs commands with [Sandbox.Exec] (buffered, bounded
// output) or [Sandbox.Spawn] (streamed), and is released with
// [Sandbox.Destroy]. States follow kavach 1.0's machine (Created, Running,
// Paused, Stopped, Destroyed) plus Created→Destroyed; state changes really
// act on the backend: Pause freezes, Stop kills.
//
// Commands are argv, never shell strings ([Shell] builds `sh -c` when a
// shell is wanted). A non-zero exit is data in [Result], not an error:
// errors are for kavach's own failures, and match the sentinels of this
// package and of [backend] with errors.Is.
//
// Every [Result] carries what the backend really enforced and the score
// of that ([backend.Enforced], [score.Score]), never the score of what was
// merely requested.
//
// Programs that use the process backend must call [Init] first thing in
// main (and in TestMain): the backend re-executes the program's own binary
// as the sandbox's init.
package kavach
