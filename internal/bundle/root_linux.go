package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// etcFiles are generated into a built root's /etc: enough for programs
// to resolve users, groups and localhost, and nothing of the host's
// (no shadow, no keys, no resolver configuration).
var etcFiles = map[string]string{
	"passwd":        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	"group":         "root:x:0:\nnogroup:x:65534:\n",
	"hosts":         "127.0.0.1\tlocalhost kavach\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	"hostname":      "kavach\n",
}

// etcHost are host paths under /etc that a built root binds read-only
// when they exist: the dynamic linker's cache and configuration, the
// Debian alternatives that /usr/bin links point into, and the public CA
// certificates.
var etcHost = []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/ssl/certs", "/etc/ca-certificates"}

// BuildRoot makes dir a root file system of mount points over the host's
// programs and returns the host paths to bind read-only at the same
// place. Nothing is copied from the host but symlinks.
func BuildRoot(dir string) ([]string, error) {
	for _, d := range []string{"", "proc", "dev", "sys", "tmp", "etc", "root", "run", "var/tmp", KavachDir[1:]} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("build root: %w", err)
		}
	}
	var binds []string
	for _, d := range HostDirs {
		fi, err := os.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, fmt.Errorf("build root: %w", err)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				return nil, fmt.Errorf("build root: %w", err)
			}
			if err := os.Symlink(target, filepath.Join(dir, d)); err != nil {
				return nil, fmt.Errorf("build root: %w", err)
			}
		case fi.IsDir():
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return nil, fmt.Errorf("build root: %w", err)
			}
			binds = append(binds, d)
		}
	}
	for name, content := range etcFiles {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("build root: %w", err)
		}
	}
	for _, p := range etcHost {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		t := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
			return nil, fmt.Errorf("build root: %w", err)
		}
		if fi.IsDir() {
			err = os.MkdirAll(t, 0o755)
		} else {
			err = os.WriteFile(t, nil, 0o644)
		}
		if err != nil {
			return nil, fmt.Errorf("build root: %w", err)
		}
		binds = append(binds, p)
	}
	return binds, nil
}
