package bundle

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kavach-go/kavach/backend"
)

// Leftovers lists what containers of kind may have left on the host:
// cgroups, runtime state under stateRoot, bundle directories in
// os.TempDir and processes whose command line names such a container.
// Tests compare it before and after many commands; it is exported for
// the backends' tests.
func Leftovers(kind backend.Kind, stateRoot string) []string {
	prefix := "kavach-" + kind.String() + "-"
	var out []string
	globs := []string{
		"/sys/fs/cgroup/*/kavach/" + prefix + "*",
		"/sys/fs/cgroup/kavach/" + prefix + "*",
		filepath.Join(os.TempDir(), prefix+"*"),
		filepath.Join(stateRoot, prefix+"*"),
	}
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		out = append(out, m...)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/"
	for _, p := range procs {
		if strings.HasPrefix(p, self) {
			continue
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), prefix) {
			out = append(out, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
