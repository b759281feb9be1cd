package probe_test

import (
	"fmt"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/probe"
)

// ExampleEvaluate compares a claim with probe output in which the
// seccomp mode check failed: the verified score leaves out the seccomp
// points.
func ExampleEvaluate() {
	claim := backend.Enforced{
		Backend:    backend.Process,
		Namespaces: []string{"user", "pid", "mount", "net", "uts", "ipc", "cgroup"},
		Root:       "tmpfs+pivot_root", ReadOnlyRoot: true, NoNewPrivs: true,
		Seccomp: "basic", SeccompRules: 80, Network: backend.NetworkNone,
	}
	out := probe.Output{Version: probe.OutputVersion}
	for _, c := range probe.Checks() {
		out.Checks = append(out.Checks, probe.Result{ID: c.ID, Pass: c.ID != "seccomp.mode"})
	}
	rep, err := probe.Evaluate(claim, out)
	if err != nil {
		panic(err)
	}
	fmt.Println("claimed:", rep.Claimed)
	fmt.Println("verified:", rep.Verified)
	fmt.Println("lost:", rep.Lost, "failed:", rep.Failed, "ok:", rep.OK)
	// Output:
	// claimed: 63 (standard)
	// verified: 58 (standard)
	// lost: [seccomp] failed: [seccomp.mode] ok: false
}

// ExampleGuard shows the guard refusing to run on a host: the probe's pid
// namespace is the host's.
func ExampleGuard() {
	err := probe.Guard(probe.GuardFacts{PID: 4242, PIDNS: 4026531836, UserNS: 4026531837, HostPID: 4026531836, HostUser: 4026531837})
	fmt.Println(err)
	// Output:
	// probe: not inside a sandbox: running in the host's pid namespace (inode 4026531836)
}
