package score_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/score"
)

// originalTable is spec §3's table: kavach 1.0's score_backend for every
// backend and preset, in the original's order.
var originalTable = []struct {
	kind                   string
	minimal, basic, strict int
	minLbl, basLbl, strLbl string
}{
	{"process", 55, 60, 65, "standard", "standard", "standard"},
	{"gvisor", 75, 80, 85, "hardened", "hardened", "fortress"},
	{"firecracker", 95, 100, 100, "fortress", "fortress", "fortress"},
	{"wasm", 70, 75, 80, "hardened", "hardened", "hardened"},
	{"oci", 60, 65, 70, "standard", "standard", "hardened"},
	{"sgx", 85, 90, 95, "fortress", "fortress", "fortress"},
	{"sev", 87, 92, 97, "fortress", "fortress", "fortress"},
	{"tdx", 90, 95, 100, "fortress", "fortress", "fortress"},
	{"sy-agnos", 85, 90, 95, "fortress", "fortress", "fortress"},
	{"noop", 5, 10, 15, "minimal", "minimal", "minimal"},
}

func TestPolicyOriginalTable(t *testing.T) {
	if len(originalTable) != len(backend.All()) {
		t.Fatalf("table has %d kinds, backend.All has %d", len(originalTable), len(backend.All()))
	}
	for i, row := range originalTable {
		if got := backend.All()[i].String(); got != row.kind {
			t.Fatalf("row %d is %s, backend.All()[%d] is %s", i, row.kind, i, got)
		}
		for _, tc := range []struct {
			preset string
			want   int
			label  string
		}{
			{"minimal", row.minimal, row.minLbl},
			{"basic", row.basic, row.basLbl},
			{"strict", row.strict, row.strLbl},
		} {
			t.Run(row.kind+"/"+tc.preset, func(t *testing.T) {
				p, err := policy.Preset(tc.preset)
				if err != nil {
					t.Fatal(err)
				}
				s := score.Policy(row.kind, p)
				if s.Value != tc.want || s.Label != tc.label {
					t.Fatalf("score.Policy(%s, %s) = %s, want %d (%s); reasons %q", row.kind, tc.preset, s, tc.want, tc.label, s.Reasons)
				}
				checkReasonsSum(t, s)
			})
		}
	}
}

// checkReasonsSum checks that the reasons account for every point: the
// base plus each "+N" reason, clamped, is the value.
func checkReasonsSum(t *testing.T, s score.Score) {
	t.Helper()
	if len(s.Reasons) == 0 {
		t.Fatalf("score %s has no reasons", s)
	}
	sum := 0
	for i, r := range s.Reasons {
		var n int
		if i == 0 {
			if _, err := fmt.Sscanf(r, "%d base", &n); err != nil {
				t.Fatalf("first reason %q does not state the base: %v", r, err)
			}
		} else if strings.HasPrefix(r, "+") {
			if _, err := fmt.Sscanf(r, "+%d", &n); err != nil {
				t.Fatalf("reason %q: %v", r, err)
			}
		}
		sum += n
	}
	if sum > 100 {
		if !strings.HasPrefix(s.Reasons[len(s.Reasons)-1], fmt.Sprintf("clamped %d to 100", sum)) {
			t.Fatalf("sum %d > 100 but the last reason does not say it was clamped: %q", sum, s.Reasons)
		}
		sum = 100
	}
	if sum != s.Value {
		t.Fatalf("reasons %q add up to %d, value is %d", s.Reasons, sum, s.Value)
	}
}

func TestPolicyModifiers(t *testing.T) {
	base := policy.Policy{Network: policy.Network{Enabled: true}} // process base only: 50
	tests := []struct {
		name   string
		mod    func(*policy.Policy)
		want   int
		reason string
	}{
		{"nothing", func(*policy.Policy) {}, 50, ""},
		{"seccomp basic", func(p *policy.Policy) { p.SeccompEnabled = true }, 55, "+5 seccomp requested (basic)"},
		{"seccomp any profile", func(p *policy.Policy) { p.SeccompEnabled = true; p.SeccompProfile = "desktop" }, 55, "+5 seccomp requested (desktop)"},
		{"profile without enabled", func(p *policy.Policy) { p.SeccompProfile = "strict" }, 50, ""},
		{"landlock rule", func(p *policy.Policy) {
			p.LandlockRules = []policy.LandlockRule{{Path: "/tmp", Access: "rw"}}
		}, 53, "+3 landlock requested (1 rules)"},
		{"read-only root alone is not landlock", func(p *policy.Policy) { p.ReadOnlyRootfs = true }, 53, "+3 read-only root requested"},
		{"network off", func(p *policy.Policy) { p.Network.Enabled = false }, 55, "+5 network off requested"},
		{"allowed hosts still network on", func(p *policy.Policy) { p.Network.AllowedHosts = []string{"example.com"} }, 50, ""},
		{"memory", func(p *policy.Policy) { p.MemoryLimitMB = 1 }, 52, "+2 memory or cpu limit requested"},
		{"cpu", func(p *policy.Policy) { p.CPULimit = 0.5 }, 52, "+2 memory or cpu limit requested"},
		{"memory and cpu count once", func(p *policy.Policy) { p.MemoryLimitMB = 64; p.CPULimit = 2 }, 52, "+2 memory or cpu limit requested"},
		{"max_pids does not count", func(p *policy.Policy) { p.MaxPids = 10 }, 50, ""},
		{"everything", func(p *policy.Policy) {
			p.SeccompEnabled = true
			p.LandlockRules = []policy.LandlockRule{{Path: "/", Access: "ro"}}
			p.Network.Enabled = false
			p.ReadOnlyRootfs = true
			p.MemoryLimitMB = 1
		}, 68, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base.Clone()
			tc.mod(&p)
			s := score.Policy("process", p)
			if s.Value != tc.want {
				t.Fatalf("got %s, want %d; reasons %q", s, tc.want, s.Reasons)
			}
			if tc.reason != "" && !slices.Contains(s.Reasons, tc.reason) {
				t.Fatalf("reasons %q lack %q", s.Reasons, tc.reason)
			}
			checkReasonsSum(t, s)
		})
	}
}

func TestReadmeExamples(t *testing.T) {
	// The README says Process strict is 68; the code (and we) say 65.
	if s := score.Policy("process", policy.Strict()); s.String() != "65 (standard)" {
		t.Errorf("process strict = %s, want 65 (standard)", s)
	}
	fc := score.Policy("firecracker", policy.Strict())
	if fc.String() != "100 (fortress)" {
		t.Errorf("firecracker strict = %s, want 100 (fortress)", fc)
	}
	if !slices.Contains(fc.Reasons, "clamped 105 to 100") {
		t.Errorf("firecracker strict reasons %q lack the clamp", fc.Reasons)
	}
}

func TestComposite(t *testing.T) {
	tests := []struct {
		outer, inner, preset string
		want                 int
	}{
		// The README's "gVisor + Process strict ≈ 80" is really max(85, 65)+5.
		{"gvisor", "process", "strict", 90},
		{"process", "gvisor", "strict", 90},
		{"process", "process", "minimal", 60},
		{"oci", "wasm", "basic", 80},
		{"firecracker", "process", "strict", 100},
		{"tdx", "sev", "basic", 100},
		{"noop", "noop", "minimal", 10},
		{"wasm", "gvisor", "minimal", 80},
	}
	for _, tc := range tests {
		t.Run(tc.outer+"+"+tc.inner+"/"+tc.preset, func(t *testing.T) {
			p, err := policy.Preset(tc.preset)
			if err != nil {
				t.Fatal(err)
			}
			o, i := score.Policy(tc.outer, p), score.Policy(tc.inner, p)
			got := score.Composite(o, i)
			want := min(100, max(o.Value, i.Value)+5)
			if got.Value != tc.want || want != tc.want {
				t.Fatalf("composite = %d, formula = %d, want %d", got.Value, want, tc.want)
			}
			if got.Label != score.Label(got.Value) {
				t.Fatalf("label %q for %d", got.Label, got.Value)
			}
			if !slices.Contains(got.Reasons, fmt.Sprintf("+5 composite over max %d", max(o.Value, i.Value))) {
				t.Fatalf("reasons %q lack the composite bonus", got.Reasons)
			}
		})
	}
	if got := score.Composite(); got.Value != 0 {
		t.Errorf("empty composite = %s, want 0", got)
	}
}

func TestLabelBoundaries(t *testing.T) {
	tests := []struct {
		v    int
		want string
	}{
		{-1, "unknown"}, {0, "minimal"}, {29, "minimal"}, {30, "basic"}, {49, "basic"},
		{50, "standard"}, {69, "standard"}, {70, "hardened"}, {84, "hardened"},
		{85, "fortress"}, {100, "fortress"}, {101, "unknown"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.v), func(t *testing.T) {
			if got := score.Label(tc.v); got != tc.want {
				t.Fatalf("Label(%d) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
}

func TestBase(t *testing.T) {
	want := map[string]int{
		"noop": 0, "process": 50, "oci": 55, "wasm": 65, "gvisor": 70, "sgx": 80,
		"sy-agnos": 80, "sev": 82, "tdx": 85, "firecracker": 90,
		"GVisor": 70, "SyAgnos": 80, "syagnos": 80, "Process": 50,
	}
	for k, v := range want {
		t.Run(k, func(t *testing.T) {
			got, ok := score.Base(k)
			if !ok || got != v {
				t.Fatalf("Base(%q) = %d, %v; want %d, true", k, got, ok, v)
			}
		})
	}
	if v, ok := score.Base("docker"); ok || v != 0 {
		t.Errorf("Base(docker) = %d, %v; want 0, false", v, ok)
	}
	s := score.Policy("docker", policy.Strict())
	if s.Value != 15 || !strings.Contains(s.Reasons[0], "unknown backend") {
		t.Errorf("unknown kind scored %s with %q", s, s.Reasons)
	}
}

func TestEnforced(t *testing.T) {
	strict := score.Facts{
		Seccomp: "strict", SeccompRules: 142, LandlockABI: 7, LandlockRules: 9,
		NetworkOff: true, ReadOnlyRoot: true, MemoryLimitMB: 512, CPULimit: 1,
	}
	tests := []struct {
		name    string
		kind    string
		f       score.Facts
		want    int
		reasons []string
	}{
		{"process nothing", "process", score.Facts{}, 50, []string{"50 base (process)"}},
		{"process strict", "process", strict, 68, []string{
			"50 base (process)", "+5 seccomp (strict, 142 rules)", "+3 landlock (ABI 7, 9 rules)",
			"+5 network off (loopback only)", "+3 read-only root", "+2 memory 512 MiB, cpu 1",
		}},
		{"landlock abi without rules", "process", score.Facts{LandlockABI: 7}, 50, nil},
		{"cpu only", "process", score.Facts{CPULimit: 0.5}, 52, []string{"50 base (process)", "+2 cpu 0.5"}},
		{"memory only", "oci", score.Facts{MemoryLimitMB: 64}, 57, []string{"55 base (oci)", "+2 memory 64 MiB"}},
		{"seccomp basic", "gvisor", score.Facts{Seccomp: "basic", SeccompRules: 17}, 75, []string{"70 base (gvisor)", "+5 seccomp (basic, 17 rules)"}},
		{"firecracker clamps", "firecracker", strict, 100, nil},
		{"noop", "noop", score.Facts{}, 0, []string{"0 base (noop)"}},
		{"sy-agnos untiered", "sy-agnos", score.Facts{}, 80, []string{"80 base (sy-agnos)"}},
		{"sy-agnos tier 1", "sy-agnos", score.Facts{SyAgnosTier: 1}, 80, []string{"80 base (sy-agnos tier 1)"}},
		{"sy-agnos tier 2", "sy-agnos", score.Facts{SyAgnosTier: 2}, 85, []string{"85 base (sy-agnos tier 2)"}},
		{"sy-agnos tier 3", "sy-agnos", score.Facts{SyAgnosTier: 3}, 88, []string{"88 base (sy-agnos tier 3)"}},
		{"sy-agnos tier 3 network off", "sy-agnos", score.Facts{SyAgnosTier: 3, NetworkOff: true}, 93, nil},
		{"sy-agnos bad tier", "sy-agnos", score.Facts{SyAgnosTier: 4}, 80, []string{"80 base (sy-agnos)"}},
		{"tier ignored for other kinds", "process", score.Facts{SyAgnosTier: 3}, 50, []string{"50 base (process)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := score.Enforced(tc.kind, tc.f)
			if s.Value != tc.want || s.Label != score.Label(tc.want) {
				t.Fatalf("got %s, want %d; reasons %q", s, tc.want, s.Reasons)
			}
			if tc.reasons != nil && !slices.Equal(s.Reasons, tc.reasons) {
				t.Fatalf("reasons %q, want %q", s.Reasons, tc.reasons)
			}
			checkReasonsSum(t, s)
		})
	}
}

// TestEnforcedMatchesPolicyWhenAllApplied checks, for every kind and
// preset, that a sandbox which enforces exactly what a preset asks scores
// what the original gives the request.
func TestEnforcedMatchesPolicyWhenAllApplied(t *testing.T) {
	for _, k := range backend.All() {
		for _, name := range policy.PresetNames() {
			p, _ := policy.Preset(name)
			e := backend.Enforced{
				Backend:       k,
				Seccomp:       p.Profile(),
				ReadOnlyRoot:  p.ReadOnlyRootfs,
				MemoryLimitMB: p.MemoryLimitMB,
				CPULimit:      p.CPULimit,
				Network:       backend.NetworkNone,
			}
			t.Run(k.String()+"/"+name, func(t *testing.T) {
				if got, want := e.Score(), score.Policy(k.String(), p); got.Value != want.Value {
					t.Fatalf("enforced %s, policy %s", got, want)
				}
			})
		}
	}
}

func TestEnforcedStructScore(t *testing.T) {
	tests := []struct {
		name string
		e    backend.Enforced
		want int
	}{
		{"proxy network is not off", backend.Enforced{Backend: backend.Process, Network: backend.NetworkProxy}, 50},
		{"host network", backend.Enforced{Backend: backend.Process, Network: backend.NetworkHost}, 50},
		{"none network", backend.Enforced{Backend: backend.Process, Network: backend.NetworkNone}, 55},
		{"downgraded seccomp scores nothing", backend.Enforced{
			Backend: backend.Process, Network: backend.NetworkNone, Downgrades: []string{"seccomp"},
		}, 55},
		{"max pids alone", backend.Enforced{Backend: backend.Process, MaxPids: 64}, 50},
		{"composite gvisor+process strict", backend.Enforced{
			Backend: backend.GVisor,
			Layers: []backend.Enforced{
				{Backend: backend.GVisor, Seccomp: "strict", ReadOnlyRoot: true, MemoryLimitMB: 512, Network: backend.NetworkNone},
				{Backend: backend.Process, Seccomp: "strict", ReadOnlyRoot: true, MemoryLimitMB: 512, Network: backend.NetworkNone},
			},
		}, 90},
		{"one layer is not a composite", backend.Enforced{
			Backend: backend.Process,
			Layers:  []backend.Enforced{{Backend: backend.GVisor}},
		}, 50},
		{"sy-agnos tier", backend.Enforced{Backend: backend.SyAgnos, SyAgnosTier: 2, Network: backend.NetworkNone}, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.Score(); got.Value != tc.want {
				t.Fatalf("got %s, want %d; reasons %q", got, tc.want, got.Reasons)
			}
		})
	}
}

// planned is a fake backend whose plan is fixed, for ranking tests.
type planned struct {
	kind    backend.Kind
	plan    backend.Enforced
	planErr error
	unavail bool
}

func (p planned) Kind() backend.Kind { return p.kind }

func (p planned) Available(context.Context) error {
	if p.unavail {
		return backend.Unavailable(p.kind, "fake")
	}
	return nil
}

func (p planned) Plan(context.Context, policy.Policy) (backend.Enforced, error) {
	return p.plan, p.planErr
}

func (p planned) Create(context.Context, backend.Spec) (backend.Sandbox, error) {
	return nil, backend.Unavailable(p.kind, "fake")
}

// TestResolveBestRanksByEnforced checks that ranking uses what each
// backend would enforce here, not the original's requested score: a wasm
// backend that enforces none of strict's modifiers (65) loses to a
// process backend that enforces strict fully (68), although the original
// ranks wasm strict (80) above process strict (65). A backend whose plan
// fails is left out with its reason.
func TestResolveBestRanksByEnforced(t *testing.T) {
	weakWasm := planned{kind: backend.Wasm, plan: backend.Enforced{Backend: backend.Wasm, Network: backend.NetworkHost}}
	fullProcess := planned{kind: backend.Process, plan: backend.Enforced{
		Backend: backend.Process, Seccomp: "strict", LandlockRules: 5, Network: backend.NetworkNone,
		ReadOnlyRoot: true, MemoryLimitMB: 512,
	}}
	failingFC := planned{kind: backend.Firecracker, planErr: &backend.NotSupportedError{Kind: backend.Firecracker, Protection: "kvm", Reason: "fake"}}
	missingTDX := planned{kind: backend.TDX, unavail: true}
	bs := []backend.Backend{weakWasm, failingFC, fullProcess, missingTDX}
	p := policy.Strict()
	if score.Policy("wasm", p).Value <= score.Policy("process", p).Value {
		t.Fatal("premise: the original ranks wasm strict above process strict")
	}
	got, err := backend.ResolveBest(context.Background(), bs, p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind() != backend.Process {
		t.Fatalf("ResolveBest chose %s, want process", got.Kind())
	}
	cands, why := backend.Rank(context.Background(), bs, p)
	var order []string
	for _, c := range cands {
		order = append(order, fmt.Sprintf("%s=%d", c.Backend.Kind(), c.Score))
		if c.Score != c.Enforced.Score().Value {
			t.Errorf("candidate %s score %d is not its plan's score %d", c.Backend.Kind(), c.Score, c.Enforced.Score().Value)
		}
	}
	if want := []string{"process=68", "wasm=65"}; !slices.Equal(order, want) {
		t.Fatalf("rank %v, want %v", order, want)
	}
	if why == nil || !strings.Contains(why.Error(), "firecracker") || !strings.Contains(why.Error(), "tdx") {
		t.Fatalf("rank error %v does not name the excluded backends", why)
	}
	if b, err := backend.ResolveMinStrength(context.Background(), bs, p, 69); err == nil {
		t.Fatalf("ResolveMinStrength(69) = %s, want an error", b.Kind())
	}
}
