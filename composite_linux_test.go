package kavach

import (
	"errors"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

func TestInnerBackendLayers(t *testing.T) {
	kavachtest.RequireRoot(t)
	inner := backend.Process
	sb, err := Create(t.Context(), Config{Backend: backend.OCI, InnerBackend: &inner, Policy: policy.Strict()})
	if errors.Is(err, ErrUnavailable) {
		kavachtest.Skip(t, "oci backend unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	if err := sb.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Exec(t.Context(), Shell("grep Seccomp_filters /proc/self/status"))
	if err != nil {
		t.Fatal(err)
	}
	// Two filters: the outer container's and the inner stage's.
	if got := strings.TrimSpace(string(res.Stdout)); got != "Seccomp_filters:\t2" {
		t.Errorf("inner layer not applied: %q (stderr %q)", got, res.Stderr)
	}
	if n := len(res.Enforced.Layers); n != 2 || res.Enforced.Layers[1].Backend != backend.Process {
		t.Fatalf("enforced layers: %+v", res.Enforced.Layers)
	}
	outer, in := res.Enforced.Layers[0].Score().Value, res.Enforced.Layers[1].Score().Value
	if want := min(100, max(outer, in)+5); res.Score.Value != want {
		t.Errorf("composite score %d, want min(100, max(%d, %d)+5) = %d", res.Score.Value, outer, in, want)
	}

	wasm := backend.Wasm
	if _, err := Create(t.Context(), Config{Backend: backend.OCI, InnerBackend: &wasm}); err == nil {
		t.Errorf("oci+wasm accepted")
	}
}
