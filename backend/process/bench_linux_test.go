package process_test

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
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

// BenchmarkExecWarm starts /bin/true in a strict sandbox whose spare
// init is idle, as after a pause between commands: the cost of a command
// that finds its init waiting. The wait for the spare is not timed.
func BenchmarkExecWarm(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	sb, err := be.Create(ctx, backend.Spec{ID: "bench", Policy: policy.Strict()})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Destroy(ctx)
	cmd := &backend.Command{Args: []string{"/bin/true"}, Stdout: io.Discard, Stderr: io.Discard}
	times := make([]time.Duration, 0, 1024)
	warm := 0
	for b.Loop() {
		b.StopTimer()
		if process.WaitSpare(sb) {
			warm++
		}
		b.StartTimer()
		t0 := time.Now()
		p, err := sb.Start(ctx, cmd)
		if err != nil {
			b.Fatal(err)
		}
		if st, err := p.Wait(); err != nil || st.Code != 0 {
			b.Fatal(st, err)
		}
		times = append(times, time.Since(t0))
	}
	reportPercentiles(b, times)
	b.ReportMetric(float64(warm)/float64(len(times)), "warm/op")
}

// reportPercentiles reports the p50 and p99 of times in milliseconds.
func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(q float64) float64 {
		return float64(times[int(q*float64(len(times)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
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
