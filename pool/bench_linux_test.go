package pool_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/pool"
)

// BenchmarkPoolGetExec is a request served from a warm pool of strict
// process sandboxes: Get, then Exec of /bin/true, timed together; Put
// (which destroys the sandbox) and the refill are not. Its peers, timed in
// the same run and interleaved with it, are the same command in a cold
// sandbox (kavach.Run: create, exec, destroy), a plain fork+exec+wait of
// /bin/true from this process (os/exec), with no sandbox at all, and the
// floor of the design (floor): the same request and reply through pipes
// to a waiting Go process (this binary re-executed, one P, its thread
// locked as the init's is) that forks, executes and reaps /bin/true —
// the warm process sandbox's round trip without namespaces, root,
// restrictions or kavach's own work.
//
// Before each request the benchmark waits, untimed, until the pool is
// full again (every sandbox Ready, its next init waiting), then lets the
// machine idle for the gap: the requests of a busy server (gap=2ms) and
// of one that had nothing to do for a while (gap=30ms). On the small VM
// this was written on, an idle vCPU is halted and slow to wake: after
// 30 ms of idle even the plain fork+exec takes about 0.4 ms longer, which
// is why both gaps are reported.
//
// It reports p50 and p99 of each in milliseconds, and the ratios of the
// pooled p50 to the plain one and to the floor. Run it with a fixed count, e.g. -benchtime=300x.
func BenchmarkPoolGetExec(b *testing.B) {
	kavachtest.RequireRoot(b)
	ctx := context.Background()
	if err := process.New().Available(ctx); err != nil {
		kavachtest.Skip(b, "process backend: %v", err)
	}
	for _, gap := range []time.Duration{2 * time.Millisecond, 30 * time.Millisecond} {
		b.Run(fmt.Sprintf("gap=%v", gap), func(b *testing.B) { benchPoolGetExec(b, gap) })
	}
}

func benchPoolGetExec(b *testing.B, gap time.Duration) {
	ctx := context.Background()
	const size = 4
	p, err := pool.New(ctx, kavach.Config{Backend: backend.Process, Policy: policy.Strict()}, size, pool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	full := func() {
		deadline := time.Now().Add(10 * time.Second)
		for p.Stats().Idle < size {
			if time.Now().After(deadline) {
				b.Fatalf("pool never refilled: %+v", p.Stats())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	fl := startFloor(b)
	defer fl.close()
	cmd := kavach.Command{Args: []string{"/bin/true"}}
	var pooled, plain, cold, floor []time.Duration
	for b.Loop() {
		b.StopTimer()
		full()
		time.Sleep(gap)
		t0 := time.Now()
		if res, err := kavach.Run(ctx, kavach.Config{Backend: backend.Process, Policy: policy.Strict()}, cmd); err != nil || res.ExitCode != 0 {
			b.Fatalf("cold run: %+v, %v", res, err)
		}
		cold = append(cold, time.Since(t0))
		full()
		time.Sleep(gap)
		t0 = time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		plain = append(plain, time.Since(t0))
		full()
		time.Sleep(gap)
		t0 = time.Now()
		fl.run(b)
		floor = append(floor, time.Since(t0))
		full()
		time.Sleep(gap)
		b.StartTimer()
		t0 = time.Now()
		sb, err := p.Get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		res, err := sb.Exec(ctx, cmd)
		took := time.Since(t0)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("exec: %+v, %v", res, err)
		}
		pooled = append(pooled, took)
		b.StopTimer()
		if err := p.Put(ctx, sb); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	if len(pooled) == 0 {
		return
	}
	at := func(ts []time.Duration, q float64) float64 {
		slices.Sort(ts)
		return float64(ts[int(q*float64(len(ts)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(pooled, 0.50), "p50-ms")
	b.ReportMetric(at(pooled, 0.99), "p99-ms")
	b.ReportMetric(at(plain, 0.50), "plain-p50-ms")
	b.ReportMetric(at(plain, 0.99), "plain-p99-ms")
	b.ReportMetric(at(cold, 0.50), "cold-p50-ms")
	b.ReportMetric(at(cold, 0.99), "cold-p99-ms")
	b.ReportMetric(at(floor, 0.50), "floor-p50-ms")
	b.ReportMetric(at(pooled, 0.50)/at(plain, 0.50), "p50-ratio")
	b.ReportMetric(at(pooled, 0.50)/at(floor, 0.50), "floor-ratio")
}

// floorRole is the waiting process of the floor peer: for each byte read
// on fd 3 it forks and executes /bin/true from its locked thread, reaps
// it and answers with a byte on fd 4, as a spare init does with its
// command, without anything else.
const floorRole = "pool-bench-floor"

func init() {
	reexec.Register(floorRole, func() {
		runtime.LockOSThread()
		in, out := os.NewFile(3, "req"), os.NewFile(4, "reply")
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			os.Exit(2)
		}
		fd := null.Fd()
		attr := &syscall.ProcAttr{Files: []uintptr{fd, fd, fd}, Sys: &syscall.SysProcAttr{Setsid: true}}
		b := make([]byte, 1)
		for {
			if _, err := in.Read(b); err != nil {
				os.Exit(0)
			}
			pid, err := syscall.ForkExec("/bin/true", []string{"/bin/true"}, attr)
			if err != nil {
				os.Exit(3)
			}
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
				os.Exit(4)
			}
			if _, err := out.Write(b); err != nil {
				os.Exit(5)
			}
		}
	})
}

// floorPeer is a started floor process and the parent's pipe ends.
type floorPeer struct {
	cmd   *exec.Cmd
	req   *os.File
	reply *os.File
	buf   [1]byte
}

func startFloor(b *testing.B) *floorPeer {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := reexec.Command(floorRole)
	// As the sandbox init runs (see newInitCmd in backend/process).
	cmd.Env = append(cmd.Env, "GODEBUG=containermaxprocs=0,updatemaxprocs=0", "TZ=", "GOMAXPROCS=1")
	cmd.ExtraFiles = []*os.File{reqR, repW}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	reqR.Close()
	repW.Close()
	return &floorPeer{cmd: cmd, req: reqW, reply: repR}
}

// run is one request to the floor process and its reply.
func (f *floorPeer) run(b *testing.B) {
	if _, err := f.req.Write(f.buf[:]); err != nil {
		b.Fatal(err)
	}
	if _, err := f.reply.Read(f.buf[:]); err != nil {
		b.Fatalf("floor peer: %v", err)
	}
}

func (f *floorPeer) close() {
	f.req.Close()
	_ = f.cmd.Wait()
	f.reply.Close()
}
