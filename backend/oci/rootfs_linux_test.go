package oci_test

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// busyboxRoot makes a root directory holding only a static busybox and,
// when withLoader is set, the loader and libraries this test binary (the
// container init) links against.
func busyboxRoot(t *testing.T, withLoader bool) string {
	t.Helper()
	bb := kavachtest.RequireBinary(t, "busybox")
	if f, err := elf.Open(bb); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				kavachtest.Skip(t, "requires a static busybox (apt-get install busybox-static); %s is dynamic", bb)
			}
		}
		f.Close()
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, filepath.Join(dir, "bin/busybox"))
	for _, c := range []string{"sh", "cat", "echo", "ls", "env"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", c)); err != nil {
			t.Fatal(err)
		}
	}
	if !withLoader {
		return dir
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kavachtest.RequireBinary(t, "ldd"), self).Output()
	if err != nil {
		// "not a dynamic executable": a static init needs nothing.
		return dir
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			copyFile(t, f, filepath.Join(dir, f))
		}
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestGivenRootfs(t *testing.T) {
	for name := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			dir := busyboxRoot(t, true)
			b := oci.New(oci.WithRuntime(name), oci.WithRootfs(dir))
			p := policy.Basic()
			p.ReadOnlyRootfs = true
			sb, err := b.Create(t.Context(), backend.Spec{ID: "rootfs", Policy: p})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Destroy(context.Background())
			var out, errb bytes.Buffer
			proc, err := sb.Start(t.Context(), &backend.Command{Args: []string{"/bin/sh", "-c", "echo hi; ls /usr; echo x > /bin/new"},
				Env: []string{"PATH=/bin"}, Stdout: &out, Stderr: &errb})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := proc.Wait(); err != nil {
				t.Fatal(err)
			}
			if out.String() != "hi\n" || !strings.Contains(errb.String(), "/usr") || !strings.Contains(errb.String(), "Read-only") {
				t.Errorf("in the busybox root: stdout %q stderr %q", out.String(), errb.String())
			}
			if !strings.HasPrefix(sb.Enforced().Root, "directory ") {
				t.Errorf("Enforced().Root = %q", sb.Enforced().Root)
			}
		})
	}
}

func TestGivenRootfsWithoutLoader(t *testing.T) {
	kavachtest.RequireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		t.Skip("this test binary is static: it runs in any root")
	}
	b := oci.New(oci.WithRootfs(busyboxRoot(t, false)))
	if _, err := b.Plan(t.Context(), policy.Basic()); err == nil || !strings.Contains(err.Error(), "lacks its loader") {
		t.Errorf("plan in a root without the loader = %v", err)
	}
}
