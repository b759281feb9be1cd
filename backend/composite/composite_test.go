package composite_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/composite"
	"github.com/kavach-go/kavach/backend/gvisor"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/backend/syagnos"
	"github.com/kavach-go/kavach/backend/wasm"
	"github.com/kavach-go/kavach/internal/reexec"
)

func TestMain(m *testing.M) {
	reexec.Init()
	os.Exit(m.Run())
}

// fakeOCI claims the OCI kind without being kavach's oci backend.
type fakeOCI struct{ backend.Backend }

func (fakeOCI) Kind() backend.Kind { return backend.OCI }

func TestNewPairs(t *testing.T) {
	tests := []struct {
		name  string
		outer backend.Backend
		inner backend.Kind
		ok    bool
		why   string // part of the refusal
	}{
		{"oci+process", oci.New(), backend.Process, true, ""},
		{"gvisor+process", gvisor.New(), backend.Process, true, ""},
		{"process+process", process.New(), backend.Process, false, "nothing to nest it in"},
		{"wasm+process", wasm.New(), backend.Process, false, "makes no system calls"},
		{"noop+process", noop.New(), backend.Process, false, "runs nothing"},
		{"sy-agnos+process", syagnos.New(), backend.Process, false, "without kavach's init"},
		{"oci+wasm", oci.New(), backend.Wasm, false, "nothing to filter"},
		{"oci+noop", oci.New(), backend.Noop, false, "applies nothing"},
		{"oci+gvisor", oci.New(), backend.GVisor, false, "nested containers"},
		{"gvisor+oci", gvisor.New(), backend.OCI, false, "nested containers"},
		{"oci+firecracker", oci.New(), backend.Firecracker, false, "not implemented"},
		{"foreign oci+process", fakeOCI{}, backend.Process, false, "not kavach's own"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := composite.New(tc.outer, tc.inner)
			if tc.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if b.Kind() != tc.outer.Kind() {
					t.Errorf("Kind() = %s, want the outer's %s", b.Kind(), tc.outer.Kind())
				}
				return
			}
			var pe *composite.PairError
			if !errors.Is(err, composite.ErrUnsupportedPair) || !errors.As(err, &pe) {
				t.Fatalf("New = %v, want a *PairError", err)
			}
			if pe.Outer != tc.outer.Kind() || pe.Inner != tc.inner || !strings.Contains(err.Error(), tc.why) ||
				!strings.Contains(err.Error(), tc.outer.Kind().String()) || !strings.Contains(err.Error(), tc.inner.String()) {
				t.Errorf("refusal %q does not name the pair %s/%s and why (%q)", err, tc.outer.Kind(), tc.inner, tc.why)
			}
		})
	}
	if _, err := composite.New(nil, backend.Process); !errors.Is(err, composite.ErrUnsupportedPair) {
		t.Errorf("New(nil) = %v", err)
	}
	if _, err := composite.New(oci.New(), backend.Process, composite.WithInnerSeccomp("bogus")); err == nil {
		t.Errorf("an unknown inner seccomp profile was accepted")
	}
}
