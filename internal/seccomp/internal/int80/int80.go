// Package int80 makes a 32-bit (i386) syscall from a 64-bit process with
// the int 0x80 instruction, so the seccomp tests can check that a foreign
// architecture's syscall kills the process. Go has no other way to reach
// the compat entry point without cgo; this is Go assembly, not cgo.
package int80
