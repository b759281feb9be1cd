//go:build !amd64

package int80

// Supported reports whether Getpid exists on this architecture.
const Supported = false

// Getpid panics: int 0x80 exists only on x86.
func Getpid() uint32 { panic("int80: int 0x80 exists only on amd64") }
