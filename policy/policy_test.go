package policy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPresets(t *testing.T) {
	tests := []struct {
		name                string
		seccomp             bool
		profile             string
		network, ro         bool
		mem                 uint64
		cpu                 float64
		pids                uint32
		effectiveProfile    string
		resourceLimitScored bool
	}{
		{"minimal", false, "", false, false, 0, 0, 0, "", false},
		{"basic", true, "basic", false, false, 0, 0, 0, "basic", false},
		{"strict", true, "strict", false, true, 512, 1.0, 64, "strict", true},
	}
	for _, tc := range tests {
		for _, name := range []string{tc.name, strings.ToUpper(tc.name)} {
			t.Run(name, func(t *testing.T) {
				p, err := Preset(name)
				if err != nil {
					t.Fatal(err)
				}
				if p.SeccompEnabled != tc.seccomp || p.SeccompProfile != tc.profile ||
					p.Network.Enabled != tc.network || p.ReadOnlyRootfs != tc.ro ||
					p.MemoryLimitMB != tc.mem || p.CPULimit != tc.cpu || p.MaxPids != tc.pids {
					t.Errorf("preset %s = %+v", name, p)
				}
				if got := p.Profile(); got != tc.effectiveProfile {
					t.Errorf("Profile() = %q, want %q", got, tc.effectiveProfile)
				}
				if got := p.HasResourceLimit(); got != tc.resourceLimitScored {
					t.Errorf("HasResourceLimit() = %v", got)
				}
				if len(p.LandlockRules) != 0 {
					t.Errorf("presets carry no landlock rules, got %v", p.LandlockRules)
				}
				if err := p.Validate(); err != nil {
					t.Errorf("preset does not validate: %v", err)
				}
			})
		}
	}
	_, err := Preset("paranoid")
	if !errors.Is(err, ErrUnknownPreset) || err.Error() != "unknown policy: paranoid (use minimal, basic, strict)" {
		t.Errorf("unknown preset error = %v", err)
	}
}

func TestJSONOriginalNames(t *testing.T) {
	got, err := json.Marshal(Strict())
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/original.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(want)) != strings.Replace(string(got), `"cpu_limit":1,`, `"cpu_limit":1.0,`, 1) {
		t.Errorf("strict JSON\n got %s\nwant %s", got, want)
	}
	// A policy in the original's exact output (Option = null, cpu 1.0)
	// parses back to the preset.
	p, err := Parse(want, JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Clone(), Strict().Clone()) {
		t.Errorf("parsed original JSON = %+v, want strict", p)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in, err := Load("testdata/strict.toml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"seccomp_enabled", "seccomp_profile", "landlock_rules", "network", "enabled",
		"allowed_hosts", "allowed_ports", "read_only_rootfs", "memory_limit_mb", "cpu_limit", "max_pids", "data_dir"} {
		if !strings.Contains(string(b), `"`+name+`"`) {
			t.Errorf("JSON lacks the original field %q: %s", name, b)
		}
	}
	out, err := Parse(b, JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip\n in %+v\nout %+v", in, out)
	}
}

func TestLoadTOML(t *testing.T) {
	p, err := Load("testdata/strict.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Strict()
	want.DataDir = "/srv/data"
	want.LandlockRules = []LandlockRule{{"/opt/tools", "ro"}}
	want.Network = Network{Enabled: true, AllowedHosts: []string{"api.example.com", "*.pypi.org:443"}, AllowedPorts: []uint16{443}}
	want.Mounts = []Mount{{Source: "/srv/in", Target: "/in", ReadOnly: true}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Load = %+v\nwant %+v", p, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct{ name, file, body, want string }{
		{"unknown json field", "a.json", `{"read_only_rootf": true}`, `unknown field "read_only_rootf"`},
		{"unknown toml field", "a.toml", "read_only_rootf = true\n", `unknown field "read_only_rootf"`},
		{"bad json", "b.json", `{"seccomp_enabled": tru`, "invalid policy: json"},
		{"bad toml", "b.toml", `seccomp_enabled = `, "invalid policy: toml"},
		{"wrong type", "c.json", `{"max_pids": -1}`, "invalid policy: json"},
		{"trailing data", "d.json", `{} {}`, "data after the policy object"},
		{"invalid value", "e.json", `{"seccomp_enabled": true, "seccomp_profile": "paranoid"}`, `seccomp_profile = "paranoid"`},
		{"extension", "f.yaml", `{}`, "want a .json or .toml file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(tc.file, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := write("big.json", `{"data_dir": "/`+strings.Repeat("a", maxFileSize)+`"}`)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Policy)
		field  string
	}{
		{"profile", func(p *Policy) { p.SeccompProfile = "desktop" }, "seccomp_profile"},
		{"profile without seccomp", func(p *Policy) { p.SeccompEnabled = false }, "seccomp_profile"},
		{"landlock relative", func(p *Policy) { p.LandlockRules = []LandlockRule{{"tmp", "rw"}} }, "landlock_rules[0].path"},
		{"landlock dotdot", func(p *Policy) { p.LandlockRules = []LandlockRule{{"/tmp/../etc", "rw"}} }, "landlock_rules[0].path"},
		{"landlock access", func(p *Policy) { p.LandlockRules = []LandlockRule{{"/tmp", "write"}} }, "landlock_rules[0].access"},
		{"host", func(p *Policy) {
			p.Network = Network{Enabled: true, AllowedHosts: []string{"ok.example", "bad host"}}
		}, "network.allowed_hosts[1]"},
		{"host port", func(p *Policy) { p.Network = Network{Enabled: true, AllowedHosts: []string{"a.example:https"}} }, "network.allowed_hosts[0]"},
		{"hosts without network", func(p *Policy) { p.Network.AllowedHosts = []string{"a.example"} }, "network.allowed_hosts"},
		{"port zero", func(p *Policy) { p.Network = Network{Enabled: true, AllowedPorts: []uint16{443, 0}} }, "network.allowed_ports[1]"},
		{"memory in bytes", func(p *Policy) { p.MemoryLimitMB = 512 << 20 }, "memory_limit_mb"},
		{"cpu negative", func(p *Policy) { p.CPULimit = -1 }, "cpu_limit"},
		{"cpu tiny", func(p *Policy) { p.CPULimit = 0.001 }, "cpu_limit"},
		{"data dir", func(p *Policy) { p.DataDir = "data" }, "data_dir"},
		{"mount target", func(p *Policy) { p.Mounts = []Mount{{Source: "/a", Target: "/"}} }, "mounts[0].target"},
		{"mount source", func(p *Policy) { p.Mounts = []Mount{{Source: "", Target: "/a"}} }, "mounts[0].source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Strict()
			tc.mutate(&p)
			err := p.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tc.field, err)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q or is not ErrInvalid", err, tc.field)
			}
		})
	}
	ok := Strict()
	ok.Network = Network{Enabled: true, AllowedHosts: []string{"api.example.com:8443", "*.example.org", "10.0.0.0/8", "::1", "[::1]:80", "192.0.2.1"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid policy rejected: %v", err)
	}
}

func TestMerge(t *testing.T) {
	net := func(enabled bool, hosts []string, ports []uint16) Policy {
		return Policy{Network: Network{Enabled: enabled, AllowedHosts: hosts, AllowedPorts: ports}}
	}
	tests := []struct {
		name          string
		base, overlay Policy
		check         func(t *testing.T, m Policy)
	}{
		{"seccomp or, strict wins", Basic(), Policy{SeccompEnabled: true, SeccompProfile: "strict"}, func(t *testing.T, m Policy) {
			if !m.SeccompEnabled || m.SeccompProfile != "strict" {
				t.Errorf("%+v", m)
			}
		}},
		{"profile from the side that has one", Minimal(), Basic(), func(t *testing.T, m Policy) {
			if !m.SeccompEnabled || m.SeccompProfile != "basic" {
				t.Errorf("%+v", m)
			}
		}},
		{"network and", net(true, nil, nil), net(false, nil, nil), func(t *testing.T, m Policy) {
			if m.Network.Enabled {
				t.Errorf("%+v", m.Network)
			}
		}},
		{"hosts intersect", net(true, []string{"a", "b", "c"}, nil), net(true, []string{"c", "b"}, nil), func(t *testing.T, m Policy) {
			if !m.Network.Enabled || !reflect.DeepEqual(m.Network.AllowedHosts, []string{"b", "c"}) {
				t.Errorf("%+v", m.Network)
			}
		}},
		{"one side empty takes the other", net(true, nil, []uint16{443}), net(true, []string{"a"}, nil), func(t *testing.T, m Policy) {
			if !reflect.DeepEqual(m.Network.AllowedHosts, []string{"a"}) || !reflect.DeepEqual(m.Network.AllowedPorts, []uint16{443}) {
				t.Errorf("%+v", m.Network)
			}
		}},
		{"disjoint hosts deny all", net(true, []string{"a"}, nil), net(true, []string{"b"}, nil), func(t *testing.T, m Policy) {
			if m.Network.Enabled || len(m.Network.AllowedHosts) != 0 {
				t.Errorf("disjoint allowlists must deny all, got %+v", m.Network)
			}
		}},
		{"disjoint ports deny all", net(true, nil, []uint16{80}), net(true, nil, []uint16{443}), func(t *testing.T, m Policy) {
			if m.Network.Enabled {
				t.Errorf("disjoint ports must deny all, got %+v", m.Network)
			}
		}},
		{"limits take the minimum of those set", Policy{MemoryLimitMB: 256, MaxPids: 10}, Strict(), func(t *testing.T, m Policy) {
			if m.MemoryLimitMB != 256 || m.CPULimit != 1 || m.MaxPids != 10 || !m.ReadOnlyRootfs {
				t.Errorf("%+v", m)
			}
		}},
		{"landlock union, data dir from base", Policy{DataDir: "/a", LandlockRules: []LandlockRule{{"/x", "ro"}}},
			Policy{DataDir: "/b", LandlockRules: []LandlockRule{{"/y", "rw"}}}, func(t *testing.T, m Policy) {
				if m.DataDir != "/a" || len(m.LandlockRules) != 2 || m.LandlockRules[0].Path != "/x" {
					t.Errorf("%+v", m)
				}
			}},
		{"data dir from overlay when base has none", Policy{}, Policy{DataDir: "/b"}, func(t *testing.T, m Policy) {
			if m.DataDir != "/b" {
				t.Errorf("%+v", m)
			}
		}},
		{"best effort only if both", Policy{BestEffort: true}, Policy{}, func(t *testing.T, m Policy) {
			if m.BestEffort {
				t.Errorf("%+v", m)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.base.Clone()
			tc.check(t, Merge(tc.base, tc.overlay))
			if !reflect.DeepEqual(base, tc.base.Clone()) {
				t.Errorf("Merge modified its base")
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"seccomp_enabled":true,"seccomp_profile":"strict"}`, `{"network":{"enabled":true,"allowed_hosts":["a:1"]}}`} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("memory_limit_mb = 5\n[network]\nenabled = true\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, isTOML bool) {
		format := JSON
		if isTOML {
			format = TOML
		}
		p, err := Parse(data, format)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		// Whatever parses must validate, and survive a JSON round trip.
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed policy does not validate: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(b, JSON)
		if err != nil {
			t.Fatalf("re-parse %s: %v", b, err)
		}
		if !reflect.DeepEqual(p.Clone(), q.Clone()) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
		}
	})
}
