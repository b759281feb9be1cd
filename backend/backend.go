package backend

import (
	"context"
	"io"
	"log/slog"
	"syscall"

	"github.com/kavach-go/kavach/policy"
)

// Backend creates sandboxes of one kind.
type Backend interface {
	// Kind names the backend.
	Kind() Kind
	// Available returns nil when the backend can create sandboxes on this
	// host, or an error wrapping ErrUnavailable that says exactly why not.
	Available(ctx context.Context) error
	// Plan returns what Create would enforce for p on this host, without
	// creating anything, or the error Create would return (for example a
	// *NotSupportedError when p is strict and the host lacks a feature).
	Plan(ctx context.Context, p policy.Policy) (Enforced, error)
	// Create builds a sandbox ready to start processes. It applies the
	// policy strictly unless p.BestEffort is set.
	Create(ctx context.Context, spec Spec) (Sandbox, error)
}

// Spec is what a sandbox is created from.
type Spec struct {
	// ID identifies the sandbox in names of cgroups, temp dirs and logs.
	ID     string
	Policy policy.Policy
	// Workdir is a host directory mounted read-write as the command's
	// working directory; empty means the backend makes a fresh one that
	// Destroy removes.
	Workdir string
	// Files are placed inside the sandbox (on a tmpfs, never the host
	// disk) before any process starts; credential files use this. The
	// caller may clear the data once Create has returned: a backend that
	// needs it later keeps its own copy.
	Files []File
	// Prepare, when set, is called for every started command once the
	// sandbox's namespaces exist and before the command runs, with the pid
	// (in the host's pid namespace) of a process inside them. kavach uses
	// it to open the egress proxy's listener inside the sandbox's network
	// namespace. The returned cleanup runs when the command has ended.
	Prepare func(ctx context.Context, pid int) (cleanup func(), err error)
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// File is a file to create inside the sandbox.
type File struct {
	Path string // absolute path inside the sandbox
	Data []byte
	Mode uint32 // e.g. 0o400
}

// Sandbox is one isolated environment. Implementations are safe for
// concurrent use.
type Sandbox interface {
	// Enforced reports what the sandbox really applies.
	Enforced() Enforced
	// Start runs a command. ctx bounds only the start; the caller ends a
	// running process with Proc.Kill.
	Start(ctx context.Context, cmd *Command) (Proc, error)
	// Pause freezes every process in the sandbox; Resume thaws them.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Stop kills every process in the sandbox; no process starts after.
	Stop(ctx context.Context) error
	// Destroy kills everything and releases every resource (mounts,
	// cgroups, temp dirs). It is idempotent.
	Destroy(ctx context.Context) error
}

// Command is one program to run. The caller has already built the full
// environment; backends add nothing from the host.
type Command struct {
	Args []string
	Env  []string // "KEY=value"
	Dir  string   // working directory inside the sandbox; "" = workdir
	// Stdin is nil for /dev/null.
	Stdin io.Reader
	// Stdout and Stderr are never nil. Backends must keep reading the
	// command's output so it is never blocked by a full pipe; the writers
	// given by kavach never block for long.
	Stdout, Stderr io.Writer
}

// Proc is a started command.
type Proc interface {
	// Wait returns when the command has exited, every process it started
	// in the sandbox for this command is gone, and all output has been
	// written to the Command's writers.
	Wait() (ExitStatus, error)
	// Signal sends sig to the command.
	Signal(sig syscall.Signal) error
	// Kill kills the command and everything it started. It is idempotent.
	Kill() error
}

// ExitStatus is how a command ended.
type ExitStatus struct {
	Code   int            // exit code when it exited
	Signal syscall.Signal // signal that killed it, 0 if it exited
	OOM    bool           // killed by the memory limit
}

// PidsReporter is implemented by sandboxes whose processes share a pids
// cgroup of their own, so that kavach's fork-bomb guard can read its
// counters (pids.current, pids.max, pids.events).
type PidsReporter interface {
	// PidsCgroup returns the directory of that cgroup, or "" when the
	// sandbox has none.
	PidsCgroup() string
}

// Readier is implemented by sandboxes that prepare ahead for their next
// command, as the process backend does with its spare init.
type Readier interface {
	// Ready returns once that preparation has finished — successfully or
	// not: a failed one only means the next Start does the work itself —
	// or when none is under way. It returns ctx's error if ctx ends first.
	Ready(ctx context.Context) error
}
