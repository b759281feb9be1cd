package process_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

// envRootless makes the test binary run one sandbox as an unprivileged
// user instead of its tests, and print what the command saw.
const envRootless = "KAVACH_ROOTLESS_RUN"

func runRootless() {
	ctx := context.Background()
	b := process.New()
	if err := b.Available(ctx); err != nil {
		fmt.Println("unavailable:", err)
		os.Exit(2)
	}
	p := policy.Strict()
	if _, err := b.Plan(ctx, p); err == nil {
		fmt.Println("strict plan without cgroups did not fail")
		os.Exit(1)
	}
	p.BestEffort = true
	sb, err := b.Create(ctx, backend.Spec{ID: "rootless", Policy: p})
	if err != nil {
		fmt.Println("create:", err)
		os.Exit(1)
	}
	defer sb.Destroy(ctx)
	e := sb.Enforced()
	fmt.Printf("enforced uid=%d cgroup=%d rlimits=%v seccomp=%s landlock=%d downgrades=%d\n", e.UID, e.CgroupVersion, e.Rlimits, e.Seccomp, e.LandlockABI, len(e.Downgrades))
	var out strings.Builder
	pr, err := sb.Start(ctx, &backend.Command{
		Args:   []string{"sh", "-c", "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'; echo x > /work/f && echo work-ok; echo x > /usr/f || echo usr-ro"},
		Env:    []string{"PATH=/usr/bin:/bin"},
		Stdout: &out, Stderr: &out,
	})
	if err != nil {
		fmt.Println("start:", err)
		os.Exit(1)
	}
	st, err := pr.Wait()
	fmt.Printf("%s", out.String())
	fmt.Printf("status=%d err=%v\n", st.Code, err)
	os.Exit(0)
}

// TestRootless runs a sandbox as an unprivileged host user (nobody): uid
// 0 inside mapped to the caller, no capability, rlimits instead of
// cgroups, and still no_new_privs, seccomp and Landlock.
func TestRootless(t *testing.T) {
	kavachtest.RequireRoot(t) // to become nobody
	cmd := exec.Command(probeBin)
	cmd.Env = []string{envRootless + "=1", "TMPDIR=/tmp", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if strings.HasPrefix(string(out), "unavailable:") {
		kavachtest.Skip(t, "unprivileged user namespaces: %s", out)
	}
	if err != nil {
		t.Fatalf("rootless run: %v\n%s", err, out)
	}
	t.Logf("rootless sandbox:\n%s", out)
	for _, want := range []string{
		"enforced uid=0 cgroup=0 rlimits=true seccomp=strict landlock=",
		"\n0\n", "CapEff:0000000000000000", "CapBnd:0000000000000000", "NoNewPrivs:1", "Seccomp:2",
		"work-ok", "usr-ro", "status=0 err=<nil>",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rootless output lacks %q:\n%s", want, out)
		}
	}
}
