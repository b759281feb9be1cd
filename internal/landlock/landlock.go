package landlock

// Filesystem access rights (include/uapi/linux/landlock.h).
const (
	AccessFSExecute    uint64 = 1 << 0
	AccessFSWriteFile  uint64 = 1 << 1
	AccessFSReadFile   uint64 = 1 << 2
	AccessFSReadDir    uint64 = 1 << 3
	AccessFSRemoveDir  uint64 = 1 << 4
	AccessFSRemoveFile uint64 = 1 << 5
	AccessFSMakeChar   uint64 = 1 << 6
	AccessFSMakeDir    uint64 = 1 << 7
	AccessFSMakeReg    uint64 = 1 << 8
	AccessFSMakeSock   uint64 = 1 << 9
	AccessFSMakeFifo   uint64 = 1 << 10
	AccessFSMakeBlock  uint64 = 1 << 11
	AccessFSMakeSym    uint64 = 1 << 12
	AccessFSRefer      uint64 = 1 << 13 // ABI 2
	AccessFSTruncate   uint64 = 1 << 14 // ABI 3
	AccessFSIoctlDev   uint64 = 1 << 15 // ABI 5
)

// Network access rights (ABI 4).
const (
	AccessNetBindTCP    uint64 = 1 << 0
	AccessNetConnectTCP uint64 = 1 << 1
)

// Scopes (ABI 6).
const (
	ScopeAbstractUnixSocket uint64 = 1 << 0
	ScopeSignal             uint64 = 1 << 1
)

// HandledFS returns every filesystem right the given ABI knows.
func HandledFS(abi int) uint64 {
	v := uint64(1<<13) - 1
	if abi >= 2 {
		v |= AccessFSRefer
	}
	if abi >= 3 {
		v |= AccessFSTruncate
	}
	if abi >= 5 {
		v |= AccessFSIoctlDev
	}
	return v
}

// ReadAccess is what a read-only rule grants: execute, read files and
// list directories.
const ReadAccess = AccessFSExecute | AccessFSReadFile | AccessFSReadDir

// DeviceAccess is what a rule for device files grants: read, write,
// truncate and ioctl on existing files, but no creating or removing.
const DeviceAccess = AccessFSReadFile | AccessFSWriteFile | AccessFSReadDir | AccessFSTruncate | AccessFSIoctlDev

// Rule grants Access beneath Path; Access is masked to what the ABI
// handles.
type Rule struct {
	Path   string
	Access uint64
	// Optional rules are skipped when Path does not exist instead of
	// failing the whole ruleset.
	Optional bool
}

// Config is one ruleset.
type Config struct {
	// ABI is the Landlock ABI to use; it must not exceed the kernel's.
	ABI   int
	Rules []Rule
	// RestrictTCP handles TCP connect and bind: both are allowed only on
	// Ports (connect to a remote port, bind to a local one; ABI 4).
	RestrictTCP bool
	Ports       []uint16
	// Scoped restricts abstract unix sockets and signals to the domain
	// (ABI 6).
	Scoped bool
}

// Result says what RestrictThread applied.
type Result struct {
	FSRules  int // path rules added
	NetRules int
	Skipped  []string // optional paths that did not exist
}
