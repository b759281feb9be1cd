package int80

// Supported reports whether Getpid exists on this architecture.
const Supported = true

// Getpid calls the i386 getpid (number 20) through int 0x80 and returns
// the raw result.
func Getpid() uint32
