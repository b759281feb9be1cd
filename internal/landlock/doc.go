// Package landlock applies Landlock rulesets to the calling OS thread.
//
// It speaks the three Landlock system calls directly instead of using
// go-landlock because kavach's sandbox init must restrict exactly one
// locked thread, the one that forks the sandboxed command: go-landlock
// restricts every thread of the process, which would give each of the
// init's threads its own domain, and with signal scoping the init could
// then no longer forward signals to the command. Callers lock the thread
// (runtime.LockOSThread) and set no_new_privs on it first.
//
// The ruleset handles every filesystem right of the kernel's ABI, TCP
// connect rights when ports are given (ABI 4) and, from ABI 6, scopes
// abstract unix sockets and signals to the domain.
package landlock
