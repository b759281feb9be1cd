// Command process benchmarks the start-up of a strict process sandbox
// against bubblewrap and a plain exec of /bin/true.
//
// It runs the three variants interleaved (so that load on the machine hits
// them alike), at least 200 times each, and prints p50/p90/p99 and the
// kavach/bwrap ratio of the medians. The kavach variant is either the CLI
// (-kavach path/to/kavach: `kavach run -p strict -- /bin/true`) or, by
// default, this program itself re-executed in its "sandbox-true" mode,
// which creates a strict sandbox with the process backend, runs /bin/true
// in it and destroys it: the same work as the CLI's run path, including a
// process start-up, without the CLI's other layers.
//
// Usage (as root; `make bench` runs it). Build both binaries static
// (CGO_ENABLED=0): a cgo build starts through the dynamic loader and libc,
// about 3 ms of CPU more per process, and kavach run starts two.
//
//	CGO_ENABLED=0 go build -o bin/kavach ./cmd/kavach
//	CGO_ENABLED=0 go run ./bench/process [-n 200] [-kavach bin/kavach] [-bwrap bwrap]
//
// It also prints the median CPU time (user+system) of each variant's
// whole process tree, which load on the machine distorts less than wall
// time.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/policy"
)

func main() {
	reexec.Init()
	if len(os.Args) > 1 && os.Args[1] == "sandbox-true" {
		os.Exit(sandboxTrue())
	}

	n := flag.Int("n", 200, "runs of each variant (at least 200 for the report)")
	kavach := flag.String("kavach", "", "path of the kavach CLI; empty benchmarks this program's direct use of the backend")
	bwrap := flag.String("bwrap", "bwrap", "path of bubblewrap")
	flag.Parse()
	if err := run(*n, *kavach, *bwrap); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sandboxTrue is one `kavach run -p strict -- /bin/true` through the
// backend: create, start, wait, destroy.
func sandboxTrue() int {
	ctx := context.Background()
	sb, err := process.New().Create(ctx, backend.Spec{ID: "bench", Policy: policy.Strict()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	defer sb.Destroy(ctx)
	p, err := sb.Start(ctx, &backend.Command{Args: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	st, err := p.Wait()
	if err != nil || st.Code != 0 {
		fmt.Fprintln(os.Stderr, st, err)
		return 1
	}
	return 0
}

type variant struct {
	name string
	args []string
	d    []time.Duration
	cpu  []time.Duration // user+system time of the whole process tree
}

// bwrapArgs mirrors the host's top-level layout: binds for directories,
// symlinks for merged-/usr links.
func bwrapArgs(bwrap string) []string {
	args := []string{bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			t, _ := os.Readlink(d)
			args = append(args, "--symlink", t, d)
		} else {
			args = append(args, "--ro-bind", d, d)
		}
	}
	return append(args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "/bin/true")
}

func run(n int, kavach, bwrap string) error {
	if _, err := exec.LookPath(bwrap); err != nil {
		return fmt.Errorf("bubblewrap not found (apt install bubblewrap): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	k := variant{name: "kavach strict (backend direct)", args: []string{self, "sandbox-true"}}
	if kavach != "" {
		k = variant{name: "kavach run -p strict", args: []string{kavach, "run", "-p", "strict", "--", "/bin/true"}}
	}
	vs := []*variant{&k, {name: "bwrap --unshare-all", args: bwrapArgs(bwrap)}, {name: "/bin/true", args: []string{"/bin/true"}}}
	for _, v := range vs { // warm up, and fail early on a broken variant
		if out, err := exec.Command(v.args[0], v.args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", v.name, err, out)
		}
	}
	for i := range n {
		for j := range vs {
			v := vs[(i+j)%len(vs)] // rotate who goes first
			cmd := exec.Command(v.args[0], v.args[1:]...)
			cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
			t := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s run %d: %w", v.name, i, err)
			}
			v.d = append(v.d, time.Since(t))
			v.cpu = append(v.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	fmt.Printf("%d interleaved runs each\n", n)
	fmt.Printf("%-32s %10s %10s %10s %12s\n", "variant", "p50", "p90", "p99", "cpu p50")
	for _, v := range vs {
		slices.Sort(v.d)
		slices.Sort(v.cpu)
		fmt.Printf("%-32s %10s %10s %10s %12s\n", v.name, pct(v.d, 50), pct(v.d, 90), pct(v.d, 99), pct(v.cpu, 50))
	}
	ratio := float64(pct(k.d, 50)) / float64(pct(vs[1].d, 50))
	fmt.Printf("kavach/bwrap p50 ratio: %.2f (target <= 1.25)\n", ratio)
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	i := (len(d)*p + 99) / 100
	if i > 0 {
		i--
	}
	return d[i].Round(10 * time.Microsecond)
}
