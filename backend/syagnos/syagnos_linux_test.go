package syagnos_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/syagnos"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// testImage imports a tiny image into podman's local store: a static
// busybox and an /etc/sy-agnos-release of the given tier, built as a tar
// in memory (no registry), and removes it when the test ends.
func testImage(t testing.TB, tier string) string {
	t.Helper()
	kavachtest.RequireRoot(t)
	podman := kavachtest.RequireBinary(t, "podman")
	bb := kavachtest.RequireBinary(t, "busybox")
	f, err := elf.Open(bb)
	if err != nil {
		kavachtest.Skip(t, "requires an ELF busybox: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			kavachtest.Skip(t, "requires a static busybox (apt-get install busybox-static); %s is dynamic", bb)
		}
	}
	f.Close()
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "dev/", "sys/"} {
		add(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))}, bin)
	for _, c := range []string{"sh", "cat", "echo", "env", "ls", "head", "sleep", "true", "setsid", "kill", "grep", "wc", "unshare"} {
		add(&tar.Header{Name: "bin/" + c, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	rel := []byte("tier=" + tier + "\n")
	add(&tar.Header{Name: "etc/sy-agnos-release", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(rel))}, rel)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	ref := "localhost/kavach-sy-agnos-test:" + hex.EncodeToString(r[:])
	imp := exec.Command(podman, "import", "-", ref)
	imp.Stdin = &buf
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(podman, "rmi", "--force", ref).CombinedOutput(); err != nil {
			t.Errorf("podman rmi %s: %v: %s", ref, err, out)
		}
	})
	return ref
}

func TestConformance(t *testing.T) {
	b := syagnos.New(syagnos.WithEngine("podman"), syagnos.WithImage(testImage(t, "dmverity")))
	backendtest.Run(t, b, backendtest.Options{RunsCommands: true})
	p := policy.Strict()
	t.Run("Strict", func(t *testing.T) {
		backendtest.Run(t, b, backendtest.Options{RunsCommands: true, Policy: &p})
	})
}

func TestTierAndConfinement(t *testing.T) {
	for _, tc := range []struct {
		tier      string
		want      int
		wantScore int
	}{
		{"minimal", syagnos.TierMinimal, 85},
		{"dmverity", syagnos.TierDMVerity, 90},
		{"tpm_measured", syagnos.TierTPMMeasured, 93},
	} {
		t.Run(tc.tier, func(t *testing.T) {
			b := syagnos.New(syagnos.WithEngine("podman"), syagnos.WithImage(testImage(t, tc.tier)))
			if got, err := b.Tier(t.Context()); err != nil || got != tc.want {
				t.Fatalf("Tier = %d, %v; want %d", got, err, tc.want)
			}
			sb, err := b.Create(t.Context(), backend.Spec{ID: "tier", Policy: policy.Minimal()})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Destroy(context.Background())
			if got := sb.Enforced().Score().Value; got != tc.wantScore {
				t.Errorf("score %d, want %d (%v)", got, tc.wantScore, sb.Enforced().Score().Reasons)
			}
			var out bytes.Buffer
			p, err := sb.Start(t.Context(), &backend.Command{Args: []string{"/bin/sh", "-c", "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"}, Stdout: &out, Stderr: &out})
			if err != nil {
				t.Fatal(err)
			}
			if st, err := p.Wait(); err != nil || st.Code != 0 {
				t.Fatalf("status %+v %v: %s", st, err, out.String())
			}
			for _, w := range []string{"CapEff:\t0000000000000000", "NoNewPrivs:\t1"} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q: %s", w, out.String())
				}
			}
		})
	}
}

// TestSeccomp checks that kavach's own filter, not podman's default,
// is in force: the default lets unshare -U through, kavach's basic
// profile refuses it.
func TestSeccomp(t *testing.T) {
	b := syagnos.New(syagnos.WithEngine("podman"), syagnos.WithImage(testImage(t, "minimal")))
	e, err := b.Plan(t.Context(), policy.Basic())
	if errors.Is(err, backend.ErrNotSupported) {
		kavachtest.Skip(t, "podman's runtime is not crun: %v", err)
	}
	if err != nil || e.Seccomp != "basic" || e.SeccompRules == 0 {
		t.Fatalf("plan = %+v, %v", e, err)
	}
	sb, err := b.Create(t.Context(), backend.Spec{ID: "seccomp", Policy: policy.Basic()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	var out bytes.Buffer
	p, err := sb.Start(t.Context(), &backend.Command{Args: []string{"/bin/sh", "-c", "grep Seccomp_filters /proc/self/status; unshare -U true; echo unshare=$?"}, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Seccomp_filters:\t1") || !strings.Contains(out.String(), "unshare=1") {
		t.Errorf("inside: %s", out.String())
	}
}

func TestUnavailableReasons(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := syagnos.New().Available(t.Context())
	if err == nil || !strings.Contains(err.Error(), "podman not found on PATH; docker not found on PATH") {
		t.Errorf("Available with an empty PATH = %v", err)
	}
}

func TestImageMissing(t *testing.T) {
	kavachtest.RequireRoot(t)
	kavachtest.RequireBinary(t, "podman")
	err := syagnos.New(syagnos.WithEngine("podman"), syagnos.WithImage("localhost/kavach-no-such-image:none")).Available(t.Context())
	if err == nil || !strings.Contains(err.Error(), "kavach never pulls") {
		t.Errorf("Available without the image = %v", err)
	}
}

// BenchmarkExec measures one command, /bin/true, as a fresh podman
// container of a local image.
func BenchmarkExec(b *testing.B) {
	bk := syagnos.New(syagnos.WithEngine("podman"), syagnos.WithImage(testImage(b, "minimal")))
	sb, err := bk.Create(b.Context(), backend.Spec{ID: "bench", Policy: policy.Minimal()})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	for b.Loop() {
		p, err := sb.Start(b.Context(), &backend.Command{Args: []string{"/bin/true"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := p.Wait(); err != nil || st.Code != 0 {
			b.Fatalf("status %+v %v", st, err)
		}
	}
}
