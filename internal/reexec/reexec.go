package reexec

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// argv0Prefix marks argv[0] of a process started in a role; the role name
// follows it.
const argv0Prefix = "kavach-reexec:"

// EnvRole is the environment variable that must repeat the role named in
// argv[0]. Roles receive a clean environment from Command, so the variable
// is never passed on to the programs a role starts.
const EnvRole = "KAVACH_REEXEC_ROLE"

var (
	mu    sync.Mutex
	roles = map[string]func(){}
)

// Register makes fn run when this binary is re-executed in role name. It
// panics if the name is empty or already registered, as both are
// programming errors found at start-up.
func Register(name string, fn func()) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || fn == nil {
		panic("reexec: Register with an empty name or nil function")
	}
	if _, dup := roles[name]; dup {
		panic(fmt.Sprintf("reexec: role %q registered twice", name))
	}
	roles[name] = fn
}

// Init runs the registered role this process was started in and exits
// with status 0 when the role returns (roles normally call os.Exit
// themselves). It returns at once, without allocating, when the process
// was not started in a role. A process that carries a role marker for a
// role that is not registered exits with status 125, because running the
// normal program in its place would be surprising and unsafe.
func Init() {
	if len(os.Args) == 0 || !strings.HasPrefix(os.Args[0], argv0Prefix) {
		return
	}
	name := os.Args[0][len(argv0Prefix):]
	if os.Getenv(EnvRole) != name {
		// The argv[0] marker alone is not enough: someone ran the binary
		// with an odd argv[0]. Behave as the normal program.
		return
	}
	mu.Lock()
	fn := roles[name]
	mu.Unlock()
	if fn == nil {
		fmt.Fprintf(os.Stderr, "kavach: re-executed in unknown role %q\n", name)
		os.Exit(125)
	}
	fn()
	os.Exit(0)
}

// Current returns the role this process was started in, or "" if none.
func Current() string {
	if len(os.Args) == 0 || !strings.HasPrefix(os.Args[0], argv0Prefix) {
		return ""
	}
	name := os.Args[0][len(argv0Prefix):]
	if os.Getenv(EnvRole) != name {
		return ""
	}
	return name
}

// Command returns a command that re-executes this binary in role name
// with args. Its environment holds only the role marker; callers append
// what the role needs. The role must be registered.
func Command(name string, args ...string) *exec.Cmd {
	cmd := &exec.Cmd{
		Path: Self(),
		Args: append([]string{argv0Prefix + name}, args...),
		Env:  []string{EnvRole + "=" + name},
	}
	return cmd
}
