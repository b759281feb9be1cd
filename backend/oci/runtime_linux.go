package oci

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/backend"
)

type runtime struct{ name, path string }

// pick returns the first usable runtime, or why none is.
func (b *Backend) pick(ctx context.Context) (runtime, error) {
	if err := ctx.Err(); err != nil {
		return runtime{}, err
	}
	names := Runtimes
	if b.runtime != "" {
		if !slices.Contains(Runtimes, b.runtime) {
			return runtime{}, fmt.Errorf("%w: %q (want crun or runc)", ErrUnknownRuntime, b.runtime)
		}
		names = []string{b.runtime}
	}
	if uid := os.Geteuid(); uid != 0 {
		return runtime{}, backend.Unavailable(backend.OCI, "needs root to create containers (running as uid %d; rootless containers are not supported)", uid)
	}
	var reasons []string
	for _, n := range names {
		path, err := exec.LookPath(n)
		if err != nil {
			reasons = append(reasons, n+" not found on PATH")
			continue
		}
		if n == "crun" {
			if why := crunHybridProblem(); why != "" {
				reasons = append(reasons, why)
				continue
			}
		}
		return runtime{name: n, path: path}, nil
	}
	return runtime{}, backend.Unavailable(backend.OCI, "%s", strings.Join(reasons, "; "))
}

// crunHybridProblem explains why crun cannot run here, or returns "".
// crun (1.8) refuses a cgroup v1 host whose unified hierarchy, mounted
// beside the v1 ones ("hybrid"), still has controllers attached: "cgroups
// in hybrid mode not supported, drop all controllers from cgroupv2".
func crunHybridProblem() string { return crunHybridProblemAt("/sys/fs/cgroup") }

// crunHybridProblemAt is crunHybridProblem for the cgroup mount at root.
func crunHybridProblemAt(root string) string {
	var st unix.Statfs_t
	if unix.Statfs(root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "" // pure cgroup v2
	}
	b, err := os.ReadFile(filepath.Join(root, "unified", "cgroup.controllers"))
	if err != nil {
		return ""
	}
	ctrls := strings.Fields(string(b))
	if len(ctrls) == 0 {
		return ""
	}
	var fix []string
	for _, c := range ctrls {
		fix = append(fix, fmt.Sprintf("mkdir -p /sys/fs/cgroup/%s && mount -t cgroup -o %s cgroup /sys/fs/cgroup/%s", c, c, c))
	}
	return fmt.Sprintf("crun: cannot create cgroups: the %s controller is in use by the unified (v2) hierarchy of this cgroup v1 hybrid host and crun refuses hybrid mode; move it to a v1 hierarchy with: %s",
		strings.Join(ctrls, ", "), strings.Join(fix, " && "))
}
