package process

import (
	"sync"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
	"github.com/kavach-go/kavach/internal/procinit"
)

// Identities inside the sandbox; see the package documentation.
const (
	// SandboxUID is the uid and gid the command runs as when kavach runs
	// as root.
	SandboxUID = 1000
	// HostIDBase is the host uid and gid that uid 0 inside maps to when
	// kavach runs as root; uid n inside is HostIDBase+n on the host. Like
	// a subuid range, it belongs to no host user.
	HostIDBase = 0x70000000
)

// WorkdirPath is where the workdir is mounted inside the sandbox, and the
// default working directory of commands.
const WorkdirPath = procinit.WorkdirPath

// Backend is the process backend.
type Backend struct {
	opts  options
	swept sync.Map // state base directory → true once swept
}

type options struct {
	noCgroups bool
	stateDir  string
	// cgroupHost, when set, replaces the detected hierarchy (tests use it
	// to run the v2 path on a hybrid host).
	cgroupHost *cgroup.Host
}

// Option configures the backend.
type Option func(*options)

// WithoutCgroups makes the backend use no cgroups, as on a host without
// cgroup access: limits fall back to rlimits when the policy is best
// effort, and fail otherwise. Pause and Resume are then unsupported.
func WithoutCgroups() Option { return func(o *options) { o.noCgroups = true } }

// WithStateDir sets the host directory under which sandboxes keep their
// state (fresh workdirs, /tmp, the root mount point). The default is a
// tmpfs when kavach runs as root (/run, or /dev/shm when /run is on
// disk), because directories there cost microseconds where a disk file
// system journals each one; otherwise os.TempDir. A fresh workdir lives
// there too: pass Spec.Workdir for a disk-backed one.
// The sandbox init runs as an unprivileged host uid, so every directory
// on the path to dir must be searchable by others (mode o+x).
func WithStateDir(dir string) Option { return func(o *options) { o.stateDir = dir } }

// New returns the process backend.
func New(opts ...Option) *Backend {
	b := &Backend{}
	for _, o := range opts {
		o(&b.opts)
	}
	return b
}

var _ backend.Backend = (*Backend)(nil)

// Kind returns backend.Process.
func (*Backend) Kind() backend.Kind { return backend.Process }
