package composite_test

import (
	"io"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/composite"
	"github.com/kavach-go/kavach/policy"
)

// BenchmarkColdExec measures a sandbox's create, one /bin/true and
// destroy, for the plain OCI backend and for the composite over it: the
// difference is the inner stage's cost (Landlock and a second seccomp
// filter in the container's exec role).
func BenchmarkColdExec(b *testing.B) {
	outer := ociOuter(b)
	comp, err := composite.New(outer, backend.Process)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		b    backend.Backend
	}{{"oci", outer}, {"oci+process", comp}} {
		b.Run(bc.name, func(b *testing.B) {
			p := policy.Basic()
			if _, err := bc.b.Plan(b.Context(), p); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				sb, err := bc.b.Create(b.Context(), backend.Spec{ID: "bench", Policy: p})
				if err != nil {
					b.Fatal(err)
				}
				proc, err := sb.Start(b.Context(), &backend.Command{Args: []string{"/bin/true"}, Stdout: io.Discard, Stderr: io.Discard})
				if err != nil {
					b.Fatal(err)
				}
				if st, err := proc.Wait(); err != nil || st.Code != 0 {
					b.Fatalf("true: %+v %v", st, err)
				}
				if err := sb.Destroy(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
