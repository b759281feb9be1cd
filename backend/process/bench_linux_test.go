package process_test

import (
	"context"
	"io"
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
)

func benchBackend(b *testing.B) backend.Backend {
	kavachtest.RequireRoot(b)
	return requireBackendB(b)
}

// BenchmarkExec starts /bin/true in an existing strict sandbox and waits
// for it: the per-command cost.
func BenchmarkExec(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	sb, err := be.Create(ctx, backend.Spec{ID: "bench", Policy: policy.Strict()})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Destroy(ctx)
	for b.Loop() {
		p, err := sb.Start(ctx, &backend.Command{Args: []string{"/bin/true"}, Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := p.Wait(); err != nil || st.Code != 0 {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkCreateExecDestroy is `kavach run -p strict -- /bin/true`
// without the process start-up: a sandbox per command.
func BenchmarkCreateExecDestroy(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	for b.Loop() {
		sb, err := be.Create(ctx, backend.Spec{ID: "bench", Policy: policy.Strict()})
		if err != nil {
			b.Fatal(err)
		}
		p, err := sb.Start(ctx, &backend.Command{Args: []string{"/bin/true"}, Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := p.Wait(); err != nil || st.Code != 0 {
			b.Fatal(st, err)
		}
		if err := sb.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateDestroy is the per-sandbox cost: state directory, /tmp
// tmpfs and cgroup.
func BenchmarkCreateDestroy(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	for b.Loop() {
		sb, err := be.Create(ctx, backend.Spec{ID: "bench", Policy: policy.Strict()})
		if err != nil {
			b.Fatal(err)
		}
		if err := sb.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
