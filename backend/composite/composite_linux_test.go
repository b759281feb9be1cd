package composite_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/composite"
	"github.com/kavach-go/kavach/backend/gvisor"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// ociOuter returns the OCI backend on the preferred usable runtime.
func ociOuter(t testing.TB) *oci.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	kavachtest.RequireLandlockABI(t, 1)
	for _, name := range oci.Runtimes {
		if _, err := exec.LookPath(name); err != nil {
			continue
		}
		b := oci.New(oci.WithRuntime(name))
		if err := b.Available(t.Context()); err == nil {
			return b
		}
	}
	kavachtest.RequireBinary(t, "crun")
	b := oci.New()
	if err := b.Available(t.Context()); err != nil {
		kavachtest.Skip(t, "no usable OCI runtime: %v", err)
	}
	return b
}

var sharedGVisor = gvisor.New()

func gvisorOuter(t *testing.T) *gvisor.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	kavachtest.RequireBinary(t, "runsc")
	if err := sharedGVisor.Available(t.Context()); err != nil {
		kavachtest.Skip(t, "runsc installed but unusable: %v", err)
	}
	return sharedGVisor
}

func mustNew(t *testing.T, outer backend.Backend, opts ...composite.Option) backend.Backend {
	t.Helper()
	b, err := composite.New(outer, backend.Process, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run(t *testing.T, b backend.Backend, p policy.Policy, script string) (backend.Enforced, string, string) {
	t.Helper()
	sb, err := b.Create(t.Context(), backend.Spec{ID: "composite-test", Policy: p})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer sb.Destroy(t.Context())
	var out, errb bytes.Buffer
	proc, err := sb.Start(t.Context(), &backend.Command{
		Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if _, err := proc.Wait(); err != nil {
		t.Fatalf("wait: %v (stderr %q)", err, errb.String())
	}
	return sb.Enforced(), out.String(), errb.String()
}

func TestConformanceOCI(t *testing.T) {
	backendtest.Run(t, mustNew(t, ociOuter(t)), backendtest.Options{RunsCommands: true})
}

func TestConformanceOCIStrict(t *testing.T) {
	p := policy.Strict()
	backendtest.Run(t, mustNew(t, ociOuter(t)), backendtest.Options{RunsCommands: true, Policy: &p})
}

func TestConformanceGVisorBestEffort(t *testing.T) {
	p := policy.Basic()
	p.BestEffort = true
	backendtest.Run(t, mustNew(t, gvisorOuter(t)), backendtest.Options{RunsCommands: true, Policy: &p})
}

// probeScript writes where the outer container allows it and reports
// the seccomp state; each line is "name=exit status" or a status line.
const probeScript = `
echo x > /kavach-composite-root 2>/dev/null; echo root=$?
echo x > /etc/kavach-composite 2>/dev/null; echo etc=$?
echo x > /rwmount/f 2>/dev/null; echo rwmount=$?
echo x > /tmp/f; echo tmp=$?
echo x > /work/f; echo work=$?
grep -E '^Seccomp(_filters)?:' /proc/self/status
`

// TestBothLayersOCI proves from inside that the outer container and
// the inner Landlock and seccomp stage are both in force: the same
// writes the plain OCI backend allows are refused under the composite,
// except where the policy grants them, and two seccomp filters are
// installed.
func TestBothLayersOCI(t *testing.T) {
	outer := ociOuter(t)
	rw := t.TempDir()
	p := policy.Basic()
	p.Mounts = []policy.Mount{{Source: rw, Target: "/rwmount"}}
	// The built root's generated /etc is writable in the container; the
	// policy's rule grants it inside the Landlock domain too.
	p.LandlockRules = []policy.LandlockRule{{Path: "/etc", Access: "rw"}}

	// The plain outer layer: the root and the rw mount are writable. It
	// cannot take the Landlock rule, so it gets the policy without it.
	plainP := p.Clone()
	plainP.LandlockRules = nil
	_, plain, _ := run(t, outer, plainP, probeScript)
	for _, want := range []string{"root=0", "etc=0", "rwmount=0", "tmp=0", "work=0", "Seccomp:\t2", "Seccomp_filters:\t1"} {
		if !strings.Contains(plain, want) {
			t.Fatalf("plain OCI: want %q in %q", want, plain)
		}
	}
	_ = os.Remove(filepath.Join(rw, "f"))
	if _, err := os.Stat(filepath.Join(rw, "f")); err == nil {
		t.Fatal("cannot reset the mount")
	}

	b := mustNew(t, outer)
	e, got, errOut := run(t, b, p, probeScript)
	// The root is denied (the shell's redirection fails with status 2);
	// what the mounts and the policy's rule grant stays writable.
	for _, want := range []string{"root=2", "etc=0", "tmp=0", "work=0", "rwmount=0", "Seccomp:\t2", "Seccomp_filters:\t2"} {
		if !strings.Contains(got, want) {
			t.Errorf("composite: want %q in %q (stderr %q)", want, got, errOut)
		}
	}
	if len(e.Layers) != 2 || e.Layers[0].Backend != backend.OCI || e.Layers[1].Backend != backend.Process {
		t.Fatalf("layers %+v", e.Layers)
	}
	in := e.Layers[1]
	abi, _ := kavachtest.LandlockABI()
	if in.LandlockABI != abi || in.LandlockRules != 8 || in.Seccomp != "basic" || in.SeccompRules == 0 || !in.NoNewPrivs || len(in.Capabilities) != 0 {
		t.Errorf("inner layer %+v", in)
	}
	if e.LandlockRules != in.LandlockRules || e.Backend != backend.OCI {
		t.Errorf("top level %+v", e)
	}
	plan, err := b.Plan(t.Context(), p)
	if err != nil || plan.Score().Value != e.Score().Value || len(plan.Layers) != 2 {
		t.Errorf("plan %+v (%v) differs from the sandbox's %+v", plan, err, e)
	}
	want := min(100, max(e.Layers[0].Score().Value, e.Layers[1].Score().Value)+5)
	if e.Score().Value != want {
		t.Errorf("score %d, want the composite rule's %d", e.Score().Value, want)
	}
}

// TestLandlockDeniesWithEACCES checks the error is Landlock's: a write
// the container's mounts allow fails with EACCES ("Permission denied"),
// not EROFS.
func TestLandlockDeniesWithEACCES(t *testing.T) {
	b := mustNew(t, ociOuter(t))
	_, _, errOut := run(t, b, policy.Basic(), `echo x > /kavach-composite-root`)
	if !strings.Contains(errOut, "Permission denied") {
		t.Errorf("write outside the allowed paths: stderr %q, want Permission denied (EACCES)", errOut)
	}
}

// TestGVisorHasNoLandlock: the sentry returns ENOSYS for Landlock, so a
// strict policy is refused and a best-effort one reports seccomp only.
func TestGVisorHasNoLandlock(t *testing.T) {
	b := mustNew(t, gvisorOuter(t))
	p := policy.Basic()
	_, err := b.Plan(t.Context(), p)
	var ns *backend.NotSupportedError
	if !errors.As(err, &ns) || !strings.Contains(ns.Protection, "landlock") {
		t.Fatalf("plan without best effort = %v, want a NotSupportedError for landlock", err)
	}
	if _, err := b.Create(t.Context(), backend.Spec{ID: "x", Policy: p}); !errors.Is(err, backend.ErrNotSupported) {
		t.Errorf("create without best effort = %v", err)
	}
	p.BestEffort = true
	e, got, errOut := run(t, b, p, `grep -E '^Seccomp(_filters)?:' /proc/self/status; echo x > /kavach-composite-root && echo root-ok`)
	in := e.Layers[1]
	if in.LandlockRules != 0 || in.LandlockABI != 0 || e.LandlockRules != 0 || in.Seccomp != "basic" || len(in.Downgrades) != 1 ||
		!strings.Contains(in.Downgrades[0], "landlock") {
		t.Errorf("best-effort inner layer %+v", in)
	}
	// gVisor's /proc/self/status reports the mode; the write proves no
	// Landlock was applied, as the Enforced says.
	if !strings.Contains(got, "Seccomp:\t2") || !strings.Contains(got, "root-ok") {
		t.Errorf("inside gVisor: %q (stderr %q)", got, errOut)
	}
}
