package procinit

import "github.com/kavach-go/kavach/internal/landlock"

// Role is the reexec role of the sandbox init.
const Role = "process-init"

// WorkdirPath is where the sandbox's working directory is mounted.
const WorkdirPath = "/work"

// Descriptors of the protocol: the init reads its config (and a spare
// its command) from FDConfig and writes its status lines to FDStatus.
const (
	FDConfig = 3
	FDStatus = 4
)

// Config is everything the init needs, sent on FDConfig as a u32
// big-endian length and JSON.
type Config struct {
	Root      string            `json:"root"`    // host dir the new root's tmpfs is mounted on
	Entries   []Entry           `json:"entries"` // system binds and symlinks
	Etc       map[string]string `json:"etc"`     // generated /etc files
	Workdir   string            `json:"workdir"` // host dir bound at WorkdirPath
	TmpDir    string            `json:"tmp"`     // host dir bound at /tmp; "" = a fresh tmpfs
	TmpSizeMB uint64            `json:"tmp_mb"`
	DataDir   string            `json:"data_dir,omitempty"`
	Mounts    []Mount           `json:"mounts,omitempty"`
	Files     []File            `json:"files,omitempty"`
	OwnNet    bool              `json:"own_net"`
	Root0     bool              `json:"root0"` // the command keeps uid 0 (unprivileged host)
	UID       int               `json:"uid"`
	GID       int               `json:"gid"`
	LastCap   int               `json:"last_cap"`
	Landlock  *LandlockPlan     `json:"landlock,omitempty"`
	Seccomp   string            `json:"seccomp,omitempty"`
	Rlimits   []Rlimit          `json:"rlimits,omitempty"`
	WaitGo    bool              `json:"wait_go,omitempty"`
	// UnshareCgroup asks the init for a cgroup namespace of its own: it
	// was moved into the sandbox's group after clone, not born there.
	UnshareCgroup bool `json:"unshare_cgroup,omitempty"`
	// PidsTasks is the v1 pids group's per-thread file: the init's forking
	// thread joins it alone, so that max_pids limits the command but never
	// the init's own threads (a fork bomb must not starve the init).
	PidsTasks string `json:"pids_tasks,omitempty"`

	// Spare asks for a spare init: it reads the command part separately,
	// after "idle".
	Spare bool `json:"spare,omitempty"`

	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
}

// CommandPart is what a spare init reads once a command is known.
type CommandPart struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
}

// Entry is one system path of the new root: a read-only bind or a
// symlink.
type Entry struct {
	Path string `json:"p"`
	Link string `json:"l,omitempty"` // symlink target; empty for a bind
	File bool   `json:"f,omitempty"` // a bind of a regular file
}

// Mount is a bind of a host path the policy asks for.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

// File is a file written into the new root before the command starts.
type File struct {
	Path string `json:"path"`
	Data []byte `json:"data"`
	Mode uint32 `json:"mode"`
}

// Rlimit is one resource limit of the fallback without cgroups.
type Rlimit struct {
	Resource int    `json:"r"`
	Value    uint64 `json:"v"`
}

// LandlockPlan is the ruleset the init builds; rules are derived from the
// mounts when the sandbox is created.
type LandlockPlan struct {
	ABI         int             `json:"abi"`
	Rules       []landlock.Rule `json:"rules"`
	RestrictTCP bool            `json:"tcp,omitempty"`
	Ports       []uint16        `json:"ports,omitempty"`
	Scoped      bool            `json:"scoped,omitempty"`
}

// Status is one message of the init on FDStatus, a JSON line.
type Status struct {
	T     string `json:"t"` // ready, idle, started, error, exit
	Stage string `json:"stage,omitempty"`
	Msg   string `json:"msg,omitempty"`
	Errno int    `json:"errno,omitempty"`
	Path  string `json:"path,omitempty"`
	Code  int    `json:"code,omitempty"`
	Sig   int    `json:"sig,omitempty"`
}
