package guard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// namespaceNames are the namespaces ReadNamespaces collects when present.
var namespaceNames = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// ReadNamespaces reads the namespace inodes of process pid (0 means the
// calling process) from /proc/<pid>/ns. The host calls it on itself and
// passes the result to CheckIntegrity inside the sandbox. Namespaces the
// kernel does not have are left out; an unreadable required one is an
// error.
func ReadNamespaces(ctx context.Context, pid int) (Namespaces, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read namespaces: %w", err)
	}
	dir := "/proc/self/ns"
	if pid != 0 {
		dir = filepath.Join("/proc", strconv.Itoa(pid), "ns")
	}
	n := Namespaces{}
	for _, name := range namespaceNames {
		ino, err := readNamespace(filepath.Join(dir, name), name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && !slices.Contains(RequiredNamespaces(), name) {
				continue
			}
			return nil, fmt.Errorf("read namespaces: %w", err)
		}
		n[name] = ino
	}
	return n, nil
}

func readNamespace(path, name string) (uint64, error) {
	link, err := os.Readlink(path)
	if err != nil {
		return 0, err
	}
	return parseNamespaceLink(name, link)
}

// CheckIntegrity runs inside a sandbox and reports whether its pid, mount,
// user and network namespaces (and any other namespace named in host) are
// really private: each one's inode, read from /proc/self/ns, must differ
// from the host's reference. Without a reference for a namespace the
// check says Shared when the inode is the kernel's fixed initial one, and
// Unknown otherwise: it never claims Private without a comparison. An
// unreadable /proc/self/ns (no /proc in the sandbox) is Unknown.
func CheckIntegrity(ctx context.Context, host Namespaces) (IntegrityReport, error) {
	if err := ctx.Err(); err != nil {
		return IntegrityReport{}, fmt.Errorf("check integrity: %w", err)
	}
	var checks []IntegrityCheck
	for _, name := range checkNames(host) {
		own, err := readNamespace(filepath.Join("/proc/self/ns", name), name)
		checks = append(checks, judge(name, own, err, host[name]))
	}
	return report(checks, time.Now()), nil
}
