package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/policy"
)

func TestKindNames(t *testing.T) {
	want := "process gvisor firecracker wasm oci sgx sev tdx sy-agnos noop"
	var got []string
	for _, k := range backend.All() {
		got = append(got, k.String())
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("kinds %v", got)
	}
	for _, tc := range []struct {
		in   string
		want backend.Kind
	}{
		{"process", backend.Process}, {"GVisor", backend.GVisor}, {"SYAGNOS", backend.SyAgnos},
		{"sy-agnos", backend.SyAgnos}, {"SyAgnos", backend.SyAgnos}, {" noop ", backend.Noop}, {"OCI", backend.OCI},
	} {
		got, err := backend.ParseKind(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseKind(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"", "docker", "process2", "sy_agnos"} {
		if _, err := backend.ParseKind(bad); !errors.Is(err, backend.ErrUnknownKind) {
			t.Errorf("ParseKind(%q) = %v", bad, err)
		}
	}
	b, _ := json.Marshal(map[string]backend.Kind{"b": backend.SyAgnos})
	if string(b) != `{"b":"sy-agnos"}` {
		t.Errorf("json %s", b)
	}
	var k backend.Kind
	if err := json.Unmarshal([]byte(`"GVisor"`), &k); err != nil || k != backend.GVisor {
		t.Errorf("unmarshal original serde name: %v %v", k, err)
	}
}

// fake is a backend whose availability and plan are set by the test.
type fake struct {
	kind  backend.Kind
	err   error
	plan  backend.Enforced
	pfail error
}

func (f fake) Kind() backend.Kind              { return f.kind }
func (f fake) Available(context.Context) error { return f.err }
func (f fake) Create(context.Context, backend.Spec) (backend.Sandbox, error) {
	return nil, errors.New("unused")
}
func (f fake) Plan(context.Context, policy.Policy) (backend.Enforced, error) {
	return f.plan, f.pfail
}

func avail(k backend.Kind, e backend.Enforced) fake {
	e.Backend = k
	return fake{kind: k, plan: e}
}

func TestResolveBest(t *testing.T) {
	ctx := t.Context()
	strong := backend.Enforced{Seccomp: "strict", LandlockRules: 5, Network: backend.NetworkNone, ReadOnlyRoot: true, MemoryLimitMB: 512}
	tests := []struct {
		name     string
		backends []backend.Backend
		min      int
		want     backend.Kind
		wantErr  bool
	}{
		{"strongest by enforced score", []backend.Backend{avail(backend.OCI, backend.Enforced{}), avail(backend.Process, strong)}, 0, backend.Process, false},
		{"gvisor enforcing as much wins", []backend.Backend{avail(backend.Process, strong), avail(backend.GVisor, strong)}, 0, backend.GVisor, false},
		{"unavailable never chosen", []backend.Backend{avail(backend.Process, backend.Enforced{}),
			fake{kind: backend.Firecracker, err: backend.Unavailable(backend.Firecracker, "no kvm"), plan: backend.Enforced{Backend: backend.Firecracker}}}, 0, backend.Process, false},
		{"not implemented never chosen", []backend.Backend{backend.NotImplemented(backend.TDX), avail(backend.Wasm, backend.Enforced{})}, 0, backend.Wasm, false},
		{"plan failure never chosen", []backend.Backend{avail(backend.Process, backend.Enforced{}), fake{kind: backend.OCI, pfail: errors.New("strict needs crun")}}, 0, backend.Process, false},
		{"noop only when alone", []backend.Backend{noop.New(), avail(backend.Process, backend.Enforced{})}, 0, backend.Process, false},
		{"noop when nothing else", []backend.Backend{noop.New(), backend.NotImplemented(backend.GVisor)}, 0, backend.Noop, false},
		// process and wasm both score 65 here: the cheaper start wins,
		// whatever the order of the list.
		{"tie goes to cheaper start", []backend.Backend{avail(backend.Wasm, backend.Enforced{}), avail(backend.Process, backend.Enforced{Seccomp: "basic", Network: backend.NetworkNone, ReadOnlyRoot: true, MemoryLimitMB: 1})}, 0, backend.Process, false},
		{"tie other order", []backend.Backend{avail(backend.Process, backend.Enforced{Seccomp: "basic", Network: backend.NetworkNone, ReadOnlyRoot: true, MemoryLimitMB: 1}), avail(backend.Wasm, backend.Enforced{})}, 0, backend.Process, false},
		{"min strength filters", []backend.Backend{avail(backend.Process, backend.Enforced{}), avail(backend.Wasm, backend.Enforced{})}, 60, backend.Wasm, false},
		{"min strength unmet", []backend.Backend{avail(backend.Process, backend.Enforced{}), noop.New()}, 99, 0, true},
		{"nothing available", []backend.Backend{backend.NotImplemented(backend.SGX)}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := backend.ResolveMinStrength(ctx, tc.backends, policy.Strict(), tc.min)
			if tc.wantErr {
				if !errors.Is(err, backend.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Kind() != tc.want {
				t.Errorf("chose %s, want %s", b.Kind(), tc.want)
			}
		})
	}
	_, err := backend.ResolveBest(ctx, []backend.Backend{backend.NotImplemented(backend.SGX)}, policy.Basic())
	if err == nil || !strings.Contains(err.Error(), "sgx: not implemented") {
		t.Errorf("error does not give the reasons: %v", err)
	}
}

func TestNotImplemented(t *testing.T) {
	b := backend.NotImplemented(backend.Firecracker)
	err := b.Available(t.Context())
	var ue *backend.UnavailableError
	if !errors.As(err, &ue) || ue.Reason != "not implemented" || ue.Kind != backend.Firecracker {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.Create(t.Context(), backend.Spec{}); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("create: %v", err)
	}
}
