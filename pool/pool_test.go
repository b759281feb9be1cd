package pool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/pool"
)

func noopConfig() kavach.Config { return kavach.Config{Backend: backend.Noop} }

func waitIdle(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Idle < n {
		if time.Now().After(deadline) {
			t.Fatalf("pool never reached %d idle: %+v", n, p.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoolGetPut(t *testing.T) {
	ctx := t.Context()
	p, err := pool.New(ctx, noopConfig(), 3, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	waitIdle(t, p, 3)
	sb, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sb.State() != kavach.Running {
		t.Fatalf("got a %s sandbox", sb.State())
	}
	if _, err := sb.Exec(ctx, kavach.Shell("true")); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if sb.State() != kavach.Destroyed {
		t.Errorf("Put must destroy a used sandbox, state %s", sb.State())
	}
	waitIdle(t, p, 3)
	if s := p.Stats(); s.Hits != 1 || s.Created < 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestPoolDiscardsUnhealthy(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	failed := map[string]bool{}
	p, err := pool.New(ctx, noopConfig(), 2, pool.Options{Health: func(_ context.Context, sb *kavach.Sandbox) error {
		mu.Lock()
		defer mu.Unlock()
		if len(failed) < 2 {
			failed[sb.ID()] = true // the first two checked fail
			return errors.New("unhealthy")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	waitIdle(t, p, 2)
	sb, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(ctx, sb)
	mu.Lock()
	if failed[sb.ID()] {
		t.Errorf("handed out a sandbox that failed its health check")
	}
	mu.Unlock()
	if s := p.Stats(); s.Discarded != 2 {
		t.Errorf("unhealthy sandboxes were not discarded: %+v", s)
	}
}

func TestPoolStoppedSandboxNeverHandedOut(t *testing.T) {
	ctx := t.Context()
	p, err := pool.New(ctx, noopConfig(), 1, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	waitIdle(t, p, 1)
	sb, _ := p.Get(ctx)
	_ = sb.Stop(ctx)
	// A stopped sandbox given back is destroyed, not reused.
	_ = p.Put(ctx, sb)
	sb2, err := p.Get(ctx)
	if err != nil || sb2 == sb || sb2.State() != kavach.Running {
		t.Fatalf("got %v %v", sb2, err)
	}
}

func TestPoolConcurrent(t *testing.T) {
	ctx := t.Context()
	p, err := pool.New(ctx, noopConfig(), 4, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	seen := sync.Map{}
	for range 50 {
		wg.Go(func() {
			sb, err := p.Get(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if _, dup := seen.LoadOrStore(sb, true); dup {
				t.Error("one sandbox handed to two callers")
			}
			_ = p.Put(ctx, sb)
		})
	}
	wg.Wait()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := p.Get(ctx); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("get after close: %v", err)
	}
}

func TestPoolBadTemplate(t *testing.T) {
	_, err := pool.New(t.Context(), kavach.Config{Backend: backend.TDX}, 2, pool.Options{})
	if !errors.Is(err, kavach.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkPoolGet(b *testing.B) {
	ctx := context.Background()
	p, err := pool.New(ctx, noopConfig(), 8, pool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	for b.Loop() {
		sb, err := p.Get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		_ = p.Put(ctx, sb)
	}
}
