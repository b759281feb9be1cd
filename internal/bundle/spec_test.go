package bundle

import (
	"slices"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kavach-go/kavach/policy"
)

func TestSpec(t *testing.T) {
	l := Layout{Rootfs: "/b/rootfs", HostBinds: []string{"/usr"}, Init: "/k/kavach", Status: "/b/status", Workdir: "/b/work"}
	tests := []struct {
		name    string
		p       policy.Policy
		netns   bool
		wantNS  int
		wantMem int64
	}{
		{"basic", policy.Basic(), true, 6, 0},
		{"strict", policy.Strict(), true, 6, 512 << 20},
		{"host network", policy.Policy{Network: policy.Network{Enabled: true}}, false, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec(Options{Policy: tc.p, NetNS: tc.netns, CgroupsPath: "/kavach/x"}, l,
				Command{Args: []string{"sh", "-c", "true"}, Env: []string{"A=1"}, Profile: tc.p.Profile()})
			if s.Version != SpecVersion || s.Root.Readonly != tc.p.ReadOnlyRootfs || !s.Process.NoNewPrivileges {
				t.Errorf("spec %+v", s)
			}
			if len(s.Linux.Namespaces) != tc.wantNS {
				t.Errorf("namespaces %v", s.Linux.Namespaces)
			}
			if c := s.Process.Capabilities; c == nil || len(c.Bounding)+len(c.Effective)+len(c.Permitted) != 0 {
				t.Errorf("capabilities %+v", c)
			}
			if tc.wantMem != 0 && (s.Linux.Resources.Memory == nil || *s.Linux.Resources.Memory.Limit != tc.wantMem || *s.Linux.Resources.Memory.Swap != tc.wantMem) {
				t.Errorf("memory %+v", s.Linux.Resources.Memory)
			}
			hasSys := slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/sys" })
			if hasSys != tc.netns {
				t.Errorf("/sys mounted = %v with netns %v", hasSys, tc.netns)
			}
			a, err := parseInitArgs(s.Process.Args[1:])
			if err != nil || a.status != StatusArg || a.profile != tc.p.Profile() || a.inner != "" || !slices.Equal(a.env, []string{"A=1"}) || !slices.Equal(a.argv, []string{"sh", "-c", "true"}) {
				t.Errorf("init args %q: %+v %v", s.Process.Args, a, err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, st := range []Status{{Code: 0}, {Code: 3}, {Code: 255}, {Signal: 9}, {Signal: 15}} {
		got, err := ParseStatus([]byte(st.String() + "\n"))
		if err != nil || got != st {
			t.Errorf("round trip %v: %v %v", st, got, err)
		}
	}
	for _, bad := range []string{"", "exit", "exit -1", "exit 256", "signal 0", "signal 65", "term 9", "exit 1 2"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) accepted", bad)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"exit 0", "signal 9", "exit 300", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatus(b)
		if err != nil {
			return
		}
		if again, err := ParseStatus([]byte(st.String())); err != nil || again != st {
			t.Fatalf("%q parsed to %v, which does not round-trip: %v %v", b, st, again, err)
		}
	})
}

func FuzzParseInitArgs(f *testing.F) {
	f.Add("/s", "basic", "", 1, "A=1", "sh")
	f.Add("/s", "", `{"seccomp":"strict"}`, 0, "", "true")
	f.Fuzz(func(t *testing.T, status, profile, inner string, n int, env, cmd string) {
		args := []string{status, profile, inner, strconv.Itoa(n)}
		for range min(max(n, 0), 4) {
			args = append(args, env)
		}
		args = append(args, "--", cmd)
		a, err := parseInitArgs(args)
		if err != nil {
			return
		}
		if a.status != status || a.profile != profile || a.inner != inner || len(a.argv) == 0 || len(a.env) != n {
			t.Fatalf("parse %q = %+v", args, a)
		}
	})
}
