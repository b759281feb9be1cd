package seccomp

//go:generate go run mksystab.go

// arch describes one architecture a filter can be compiled for.
type arch struct {
	goarch string
	// audit is the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch
	// for native syscalls of this architecture.
	audit uint32
	// x32 is true where the same audit arch also carries the x32 ABI, whose
	// syscall numbers have bit 30 set (x86_64 only).
	x32 bool
	// table returns the syscall name to number map; it is built on first
	// use, so a process pays only for the architectures it compiles for.
	table func() map[string]uint32
}

// Audit arch values from linux/audit.h, spelled out because x/sys/unix only
// defines them on Linux.
const (
	auditArchX86_64  = 0xc000003e
	auditArchAarch64 = 0xc00000b7
	auditArchI386    = 0x40000003
	auditArchArm     = 0x40000028
	x32SyscallBit    = 0x40000000
)

var archs = map[string]*arch{
	"amd64": {goarch: "amd64", audit: auditArchX86_64, x32: true, table: sysX86_64},
	"arm64": {goarch: "arm64", audit: auditArchAarch64, table: sysAarch64},
}
