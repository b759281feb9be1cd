package pool_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/pool"
)

// poolPace is the gap between two requests of BenchmarkPoolGetExec, not
// timed: requests that come no faster than the pool makes warm sandboxes
// (each with its spare init, see backend/process), on a small machine
// whose two CPUs would otherwise build the next sandbox while the timed
// command runs.
const poolPace = 30 * time.Millisecond

// BenchmarkPoolGetExec is a request served from a warm pool of strict
// process sandboxes: Get, then Exec of /bin/true, timed together; Put
// (which destroys the sandbox) and the refill are not. It reports the
// p50 and p99 of Get+Exec in milliseconds. Run it with a fixed count,
// e.g. -benchtime=300x: every iteration also waits poolPace.
func BenchmarkPoolGetExec(b *testing.B) {
	kavachtest.RequireRoot(b)
	ctx := context.Background()
	if err := process.New().Available(ctx); err != nil {
		kavachtest.Skip(b, "process backend: %v", err)
	}
	const size = 4
	p, err := pool.New(ctx, kavach.Config{Backend: backend.Process, Policy: policy.Strict()}, size, pool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	cmd := kavach.Command{Args: []string{"/bin/true"}}
	var times []time.Duration
	for b.Loop() {
		b.StopTimer()
		deadline := time.Now().Add(10 * time.Second)
		for p.Stats().Idle < size {
			if time.Now().After(deadline) {
				b.Fatalf("pool never refilled: %+v", p.Stats())
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(poolPace)
		b.StartTimer()
		t0 := time.Now()
		sb, err := p.Get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		res, err := sb.Exec(ctx, cmd)
		took := time.Since(t0)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("exec: %+v, %v", res, err)
		}
		times = append(times, took)
		b.StopTimer()
		if err := p.Put(ctx, sb); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
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
