package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A sandbox's state directory records its owner (the kavach process that
// created it) and its cgroup directories. A kavach process that dies
// without Destroy (killed, crashed) leaves them behind; its inits died
// with it (Pdeathsig). The first Create of each process sweeps what dead
// owners left: it unmounts their /tmp, removes their cgroups and their
// state directories. Live owners' sandboxes are never touched: an owner
// is identified by pid and start time.
const (
	ownerFile  = "owner"
	cgroupFile = "cgroups"
)

// procStart returns the start time of pid (field 22 of /proc/pid/stat),
// which tells a live process from a later one that reused its pid.
func procStart(pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	// The command name (field 2) may hold spaces: count from its end.
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(rest)
	if len(f) < 20 {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return f[19], nil
}

// writeOwner records this process and the sandbox's cgroup directories.
func writeOwner(stateDir string, cgroups []string) error {
	start, err := procStart(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stateDir, ownerFile), fmt.Appendf(nil, "%d %s\n", os.Getpid(), start), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(stateDir, cgroupFile), []byte(strings.Join(cgroups, "\n")), 0o600)
}

// ownerAlive reports whether the owner recorded in stateDir still runs;
// unreadable records count as alive, so that nothing unknown is removed.
func ownerAlive(stateDir string) bool {
	data, err := os.ReadFile(filepath.Join(stateDir, ownerFile))
	if err != nil {
		return true
	}
	var pid int
	var start string
	if _, err := fmt.Sscanf(string(data), "%d %s", &pid, &start); err != nil || pid <= 0 {
		return true
	}
	now, err := procStart(pid)
	return err == nil && now == start
}

// sweep removes the sandboxes of dead owners under base.
func sweep(base string) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "kavach-") {
			continue
		}
		dir := filepath.Join(base, e.Name())
		var st syscall.Stat_t
		if syscall.Lstat(dir, &st) != nil || int(st.Uid) != os.Geteuid() || ownerAlive(dir) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil {
			continue // not a sandbox state directory
		}
		_ = unix.Unmount(filepath.Join(dir, "tmp"), unix.MNT_DETACH)
		if data, err := os.ReadFile(filepath.Join(dir, cgroupFile)); err == nil {
			removeStaleCgroups(strings.Split(string(data), "\n"))
		}
		_ = os.RemoveAll(dir)
	}
}

// removeStaleCgroups empties and removes a dead owner's cgroups. A
// sandbox paused when its owner died is still frozen, and its processes
// cannot die of their parent's death until thawed.
func removeStaleCgroups(dirs []string) {
	var live []string
	for _, d := range dirs {
		if strings.HasPrefix(d, "/sys/fs/cgroup/") && !strings.Contains(d, "..") {
			live = append(live, d)
		}
	}
	for _, d := range live {
		_ = os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
		_ = os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0)
	}
	for range 100 {
		left := live[:0]
		for _, d := range live {
			if data, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
				for f := range strings.FieldsSeq(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
			if err := syscall.Rmdir(d); err != nil && err != syscall.ENOENT {
				left = append(left, d)
			}
		}
		if live = left; len(live) == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
