package process

import (
	"os"
	"path/filepath"

	"github.com/kavach-go/kavach/backend"
)

var _ backend.PidsReporter = (*sandbox)(nil)

// PidsCgroup returns the sandbox's pids cgroup directory (v1's pids
// hierarchy or the v2 group), or "" without cgroups.
func (s *sandbox) PidsCgroup() string {
	if s.cg == nil {
		return ""
	}
	for _, d := range s.cg.Dirs() {
		if _, err := os.Stat(filepath.Join(d, "pids.current")); err == nil {
			return d
		}
	}
	return ""
}
