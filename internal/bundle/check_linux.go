package bundle

import (
	"debug/elf"

	"os"
	"path/filepath"

	"github.com/kavach-go/kavach/backend"
)

// CheckRootfs reports whether kavach's own binary, which becomes the
// container's init, can run inside the root directory dir: a dynamically
// linked binary needs its loader (and libc) there. The answer is an
// *backend.UnavailableError for kind when it cannot.
func CheckRootfs(kind backend.Kind, dir string) error {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return backend.Unavailable(kind, "rootfs %s is not a directory", dir)
	}
	self, err := os.Executable()
	if err != nil {
		return backend.Unavailable(kind, "cannot find kavach's own binary for the container init: %v", err)
	}
	f, err := elf.Open(self)
	if err != nil {
		return backend.Unavailable(kind, "cannot read kavach's own binary %s: %v", self, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return backend.Unavailable(kind, "read the loader of %s: %v", self, err)
		}
		interp := string(b[:max(0, len(b)-1)]) // NUL-terminated
		if _, err := os.Stat(filepath.Join(dir, interp)); err != nil {
			return backend.Unavailable(kind, "kavach's binary is dynamically linked and rootfs %s lacks its loader %s, so the container init cannot run there; build kavach with CGO_ENABLED=0 or use a rootfs with the host's libc", dir, interp)
		}
	}
	return nil
}
