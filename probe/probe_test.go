package probe

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
)

// strictClaim is what the process backend claims for the strict preset.
func strictClaim() backend.Enforced {
	return backend.Enforced{
		Backend:       backend.Process,
		Namespaces:    []string{"user", "pid", "mount", "net", "uts", "ipc", "cgroup"},
		Root:          "tmpfs+pivot_root",
		ReadOnlyRoot:  true,
		Seccomp:       "strict",
		SeccompRules:  300,
		LandlockABI:   7,
		LandlockRules: 8,
		CgroupVersion: 1,
		MemoryLimitMB: 512,
		CPULimit:      1,
		MaxPids:       64,
		NoNewPrivs:    true,
		Network:       backend.NetworkNone,
	}
}

func TestCatalogue(t *testing.T) {
	cs := Checks()
	if len(cs) < 30 {
		t.Fatalf("%d checks, want at least 30", len(cs))
	}
	seen := map[string]bool{}
	mods := map[Modifier]int{}
	for _, c := range cs {
		if seen[c.ID] {
			t.Errorf("duplicate id %s", c.ID)
		}
		seen[c.ID] = true
		if c.Description == "" || c.expect == nil {
			t.Errorf("check %s lacks a description or an expectation", c.ID)
		}
		switch c.Modifier {
		case Base, Seccomp, Landlock, NetworkOff, ReadOnlyRoot, ResourceLimit, None:
		default:
			t.Errorf("check %s has modifier %q", c.ID, c.Modifier)
		}
		mods[c.Modifier]++
	}
	for _, m := range []Modifier{Base, Seccomp, Landlock, NetworkOff, ReadOnlyRoot, ResourceLimit} {
		if mods[m] == 0 {
			t.Errorf("no check backs %s", m)
		}
	}
}

func expectedIDs(e backend.Enforced) []string {
	var ids []string
	for _, c := range Checks() {
		if c.Expected(e) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func TestExpected(t *testing.T) {
	full := strictClaim()
	full.LandlockScoped, full.LandlockNetRules = true, 1
	if got, all := len(expectedIDs(full)), len(Checks()); got != all {
		t.Errorf("a full claim expects %d of %d checks; missing %v", got, all, missing(full))
	}
	if ids := expectedIDs(backend.Enforced{Backend: backend.Noop}); len(ids) != 0 {
		t.Errorf("noop expects %v", ids)
	}
	tests := []struct {
		name     string
		mod      func(*backend.Enforced)
		expected []string
		not      []string
	}{
		{"host network", func(e *backend.Enforced) {
			e.Network = backend.NetworkHost
			e.Namespaces = slices.DeleteFunc(e.Namespaces, func(s string) bool { return s == "net" })
		}, nil, []string{"net.host_tcp", "net.interfaces", "net.route", "net.host_abstract", "ns.net"}},
		{"host network with landlock scope", func(e *backend.Enforced) {
			e.Network = backend.NetworkHost
			e.LandlockScoped = true
		}, []string{"net.host_abstract"}, []string{"net.host_tcp"}},
		{"proxy network is isolated", func(e *backend.Enforced) { e.Network = backend.NetworkProxy }, []string{"net.host_tcp", "net.interfaces"}, nil},
		{"no seccomp: cap-gated calls still expected", func(e *backend.Enforced) { e.Seccomp = "" },
			[]string{"sys.mount", "sys.reboot", "sys.socket_packet", "sys.chroot", "sys.mknod_char"},
			[]string{"seccomp.mode", "sys.bpf", "sys.keyctl", "sys.userfaultfd", "sys.clone_newuser"}},
		{"basic seccomp", func(e *backend.Enforced) { e.Seccomp = "basic" }, []string{"sys.bpf", "sys.keyctl", "seccomp.mode"}, nil},
		{"basic seccomp, caps kept", func(e *backend.Enforced) {
			e.Seccomp = "basic"
			e.Capabilities = []string{"CAP_SYS_CHROOT"}
		}, []string{"sys.mount"}, []string{"sys.chroot", "sys.mknod_char", "caps.CapEff"}},
		{"no landlock", func(e *backend.Enforced) { e.LandlockRules = 0 }, nil, []string{"landlock.abi", "landlock.write"}},
		{"landlock net rules", func(e *backend.Enforced) { e.LandlockNetRules = 1 }, []string{"landlock.tcp"}, nil},
		{"writable root", func(e *backend.Enforced) { e.ReadOnlyRoot = false }, []string{"rw.tmp"}, []string{"ro.root", "ro.usr", "ro.etc"}},
		{"no limits", func(e *backend.Enforced) { e.MemoryLimitMB, e.CPULimit, e.MaxPids = 0, 0, 0 }, nil,
			[]string{"limits.memory", "limits.cpu", "limits.pids"}},
		{"no own root", func(e *backend.Enforced) { e.Root = "" }, []string{"host.env", "fd.leaked"},
			[]string{"host.shadow", "dev.nodes", "proc.kcore", "rw.tmp"}},
		{"no pid namespace", func(e *backend.Enforced) {
			e.Namespaces = slices.DeleteFunc(e.Namespaces, func(s string) bool { return s == "pid" })
		}, nil, []string{"ns.pid", "host.pid", "host.procs", "proc.kcore"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := strictClaim()
			e.Namespaces = slices.Clone(e.Namespaces)
			tc.mod(&e)
			ids := expectedIDs(e)
			for _, id := range tc.expected {
				if !slices.Contains(ids, id) {
					t.Errorf("%s not expected", id)
				}
			}
			for _, id := range tc.not {
				if slices.Contains(ids, id) {
					t.Errorf("%s expected", id)
				}
			}
		})
	}
}

func missing(e backend.Enforced) []string {
	var out []string
	for _, c := range Checks() {
		if !c.Expected(e) {
			out = append(out, c.ID)
		}
	}
	return out
}

// output returns probe output in which every check passes, except those
// listed in fail.
func output(fail ...string) Output {
	out := Output{Version: OutputVersion}
	for _, c := range Checks() {
		out.Checks = append(out.Checks, Result{ID: c.ID, Pass: !slices.Contains(fail, c.ID), Detail: "test"})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	claim := strictClaim()
	if v := claim.Score().Value; v != 68 {
		t.Fatalf("premise: strict claim scores %d, want 68", v)
	}
	tests := []struct {
		name     string
		claim    func(*backend.Enforced)
		fail     []string
		verified int
		lost     []Modifier
		ok       bool
	}{
		{"all pass", nil, nil, 68, nil, true},
		{"seccomp mode fails", nil, []string{"seccomp.mode"}, 63, []Modifier{Seccomp}, false},
		{"a seccomp-only syscall allowed", nil, []string{"sys.keyctl"}, 63, []Modifier{Seccomp}, false},
		{"landlock write fails", nil, []string{"landlock.write"}, 65, []Modifier{Landlock}, false},
		{"network reachable", nil, []string{"net.host_tcp", "net.interfaces"}, 63, []Modifier{NetworkOff}, false},
		{"root writable", nil, []string{"ro.root"}, 65, []Modifier{ReadOnlyRoot}, false},
		{"memory fails, cpu holds", nil, []string{"limits.memory"}, 68, []Modifier{ResourceLimit}, false},
		{"memory and cpu fail", nil, []string{"limits.memory", "limits.cpu"}, 66, []Modifier{ResourceLimit}, false},
		{"pids check carries no points", nil, []string{"limits.pids"}, 68, nil, false},
		{"namespace fails: base lost", nil, []string{"ns.pid"}, 18, []Modifier{Base}, false},
		{"caps and seccomp fail", nil, []string{"caps.CapBnd", "seccomp.mode"}, 13, []Modifier{Base, Seccomp}, false},
		{"unexpected failures do not count", func(e *backend.Enforced) {
			e.Network = backend.NetworkHost
			e.Seccomp = ""
		}, []string{"net.host_tcp", "net.interfaces", "net.route", "net.host_abstract", "seccomp.mode", "sys.keyctl"}, 58, nil, true},
		{"a lie is caught", func(e *backend.Enforced) { e.Seccomp = "basic" }, []string{"seccomp.mode"}, 63, []Modifier{Seccomp}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := strictClaim()
			if tc.claim != nil {
				tc.claim(&c)
			}
			rep, err := Evaluate(c, output(tc.fail...))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verified.Value != tc.verified || !slices.Equal(rep.Lost, tc.lost) || rep.OK != tc.ok {
				t.Fatalf("verified %s lost %v ok %v; want %d %v %v; reasons %q", rep.Verified, rep.Lost, rep.OK,
					tc.verified, tc.lost, tc.ok, rep.Verified.Reasons)
			}
			if rep.Claimed.Value != c.Score().Value {
				t.Fatalf("claimed %d, want %d", rep.Claimed.Value, c.Score().Value)
			}
			if rep.Verified.Value > rep.Claimed.Value {
				t.Fatalf("verified %d above claimed %d", rep.Verified.Value, rep.Claimed.Value)
			}
			if len(rep.Checks) != len(Checks()) {
				t.Fatalf("%d checks reported", len(rep.Checks))
			}
		})
	}
}

func TestEvaluateTrustsOnlyTheBattery(t *testing.T) {
	out := output()
	// The probe says the seccomp check was not expected and gives it
	// another modifier; Evaluate uses its own.
	for i := range out.Checks {
		if out.Checks[i].ID == "seccomp.mode" {
			out.Checks[i].Pass = false
			out.Checks[i].Expected = false
			out.Checks[i].Modifier = None
		}
	}
	rep, err := Evaluate(strictClaim(), out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || !slices.Equal(rep.Lost, []Modifier{Seccomp}) || !slices.Equal(rep.Failed, []string{"seccomp.mode"}) {
		t.Fatalf("report %+v", rep)
	}

	out = output()
	out.Checks = out.Checks[1:] // the first check is missing
	rep, err = Evaluate(strictClaim(), out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Failed[0] != Checks()[0].ID || !strings.Contains(rep.Checks[0].Detail, "missing") {
		t.Fatalf("missing check not failed: %+v", rep.Failed)
	}

	out = output()
	out.Checks = append(out.Checks, Result{ID: "made.up", Pass: true})
	if _, err := Evaluate(strictClaim(), out); !errors.Is(err, ErrOutput) {
		t.Fatalf("unknown check: err = %v", err)
	}
	out = output()
	out.Checks = append(out.Checks, out.Checks[0])
	if _, err := Evaluate(strictClaim(), out); !errors.Is(err, ErrOutput) {
		t.Fatalf("repeated check: err = %v", err)
	}
}

func TestEvaluateComposite(t *testing.T) {
	inner := strictClaim()
	outer := strictClaim()
	outer.Backend = backend.GVisor
	claim := backend.Enforced{Backend: backend.GVisor, Layers: []backend.Enforced{outer, inner}}
	claim.Namespaces, claim.Root, claim.Network, claim.NoNewPrivs = inner.Namespaces, inner.Root, inner.Network, true
	claim.Seccomp = "strict"
	rep, err := Evaluate(claim, output("seccomp.mode"))
	if err != nil {
		t.Fatal(err)
	}
	// max(70+13, 50+13)+5 = 88 once seccomp is gone from both layers.
	if rep.Claimed.Value != 93 || rep.Verified.Value != 88 {
		t.Fatalf("claimed %s verified %s", rep.Claimed, rep.Verified)
	}
}

func TestParseOutput(t *testing.T) {
	out, err := ParseOutput([]byte("kavach: init ready\n{\"version\":1,\"checks\":[{\"id\":\"nnp\",\"pass\":true,\"detail\":\"NoNewPrivs 1\"}]}\n"))
	if err != nil || len(out.Checks) != 1 || !out.Checks[0].Pass {
		t.Fatalf("got %+v, %v", out, err)
	}
	for _, bad := range []string{"", "no json", `{"version":2,"checks":[]}`, `{"version":1,"extra":1}`, `{"version":1,"checks":[}`} {
		if _, err := ParseOutput([]byte(bad)); !errors.Is(err, ErrOutput) {
			t.Errorf("ParseOutput(%q) err = %v", bad, err)
		}
	}
}

func TestGuard(t *testing.T) {
	ok := GuardFacts{PID: 2, PIDNS: 10, UserNS: 20, HostPID: 11, HostUser: 21}
	tests := []struct {
		name string
		mod  func(*GuardFacts)
		ok   bool
	}{
		{"sandboxed", func(*GuardFacts) {}, true},
		{"sandboxed in host user ns without caps", func(f *GuardFacts) { f.UserNS = f.HostUser }, true},
		{"host pid namespace", func(f *GuardFacts) { f.PIDNS = f.HostPID }, false},
		{"no host info", func(f *GuardFacts) { f.HostPID, f.HostUser = 0, 0 }, false},
		{"unreadable own namespaces", func(f *GuardFacts) { f.PIDNS = 0 }, false},
		{"large pid", func(f *GuardFacts) { f.PID = 31337 }, false},
		{"caps in host user ns", func(f *GuardFacts) { f.UserNS, f.CapEff = f.HostUser, 1<<21 }, false},
		{"caps in own user ns", func(f *GuardFacts) { f.CapEff = 1 << 21 }, true},
		{"kernel threads visible", func(f *GuardFacts) { f.KernelThreads = true }, false},
		{"initial pid namespace", func(f *GuardFacts) { f.PIDNS = initPIDNSInode }, false},
		{"initial user namespace with caps", func(f *GuardFacts) { f.UserNS, f.CapEff = initUserNSInode, 1 }, false},
		{"forged host info on a host", func(f *GuardFacts) { f.KernelThreads, f.IdentityUIDMap, f.CapEff = true, true, 1<<21 }, false},
		{"identity uid map with caps", func(f *GuardFacts) { f.IdentityUIDMap, f.CapEff = true, 1<<21 }, false},
		{"identity uid map without caps", func(f *GuardFacts) { f.IdentityUIDMap = true }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.mod(&f)
			err := Guard(f)
			if (err == nil) != tc.ok {
				t.Fatalf("Guard(%+v) = %v", f, err)
			}
			if err != nil && !errors.Is(err, ErrNotSandboxed) {
				t.Fatalf("err %v is not ErrNotSandboxed", err)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	for _, k := range backend.All() {
		t.Run(k.String(), func(t *testing.T) {
			err := Supported(k)
			refused := k == backend.Wasm || k == backend.Noop
			if refused != errors.Is(err, ErrUnsupportedBackend) {
				t.Errorf("Supported(%s) = %v", k, err)
			}
			if refused && !strings.Contains(err.Error(), k.String()) {
				t.Errorf("refusal %q does not name %s", err, k)
			}
		})
	}
}
