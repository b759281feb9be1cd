package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// ListenInNetns opens a TCP listener on addr inside the network namespace
// at nsPath (for example "/proc/PID/ns/net" of a sandbox's init), and
// returns it to the calling namespace's world: accepting and serving run
// on ordinary goroutines, in the host's namespace, while the socket itself
// belongs to the target namespace, so only processes inside it can
// connect. The sandbox reaches the proxy at 127.0.0.1:PORT over its own
// loopback, and the proxy's upstream connections leave from the host.
//
// It works by switching one locked OS thread into the namespace just long
// enough to create the socket. If the thread cannot be switched back, it
// is left locked so that it exits with its goroutine instead of running
// other goroutines in the wrong namespace.
//
// It needs CAP_SYS_ADMIN (root), as setns(2) does.
func ListenInNetns(ctx context.Context, nsPath, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ln, restored, err := listenLocked(ctx, nsPath, addr)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{ln, err}
	}()
	select {
	case r := <-ch:
		return r.ln, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.ln != nil {
				r.ln.Close()
			}
		}()
		return nil, fmt.Errorf("listen in %s: %w", nsPath, ctx.Err())
	}
}

// listenLocked runs on a locked thread: enter nsPath, listen, come back.
// restored reports whether the thread is back in its own namespace.
func listenLocked(ctx context.Context, nsPath, addr string) (ln net.Listener, restored bool, err error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, true, fmt.Errorf("listen in %s: %w: own namespace: %w", nsPath, ErrNetns, err)
	}
	defer self.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, true, fmt.Errorf("listen in %s: %w: %w", nsPath, ErrNetns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("listen in %s: %w: setns: %w", nsPath, ErrNetns, err)
	}
	var lc net.ListenConfig
	ln, lerr := lc.Listen(ctx, "tcp", addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		if ln != nil {
			// The socket is fine (it lives in the target namespace), but
			// this thread is not; it stays locked and dies.
			return ln, false, nil
		}
		return nil, false, fmt.Errorf("listen in %s: %w: restore namespace: %w", nsPath, ErrNetns, err)
	}
	if lerr != nil {
		return nil, true, fmt.Errorf("listen in %s: %w: %w", nsPath, ErrNetns, lerr)
	}
	return ln, true, nil
}

// ServeInNetns serves p on addr (such as SandboxAddr) inside the network
// namespace of process pid, until stop is called. It fits
// backend.Spec.Prepare: the listener is opened before the command runs,
// and serving continues after ctx (which bounds only the setup) ends.
//
// Calls for the same namespace and address share one listener, counted:
// commands running side by side in one sandbox all reach the proxy, and
// the listener closes when the last one's stop is called. stop is
// idempotent.
func (p *Proxy) ServeInNetns(ctx context.Context, pid int, addr string) (stop func(), err error) {
	nsPath := fmt.Sprintf("/proc/%d/ns/net", pid)
	var st unix.Stat_t
	if err := unix.Stat(nsPath, &st); err != nil {
		return nil, fmt.Errorf("serve in %s: %w: %w", nsPath, ErrNetns, err)
	}
	key := fmt.Sprintf("%d:%d %s", st.Dev, st.Ino, addr)
	p.nsMu.Lock()
	defer p.nsMu.Unlock()
	if p.nsServers == nil {
		p.nsServers = map[string]*nsServer{}
	}
	srv, ok := p.nsServers[key]
	if !ok {
		ln, err := ListenInNetns(ctx, nsPath, addr)
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		srv = &nsServer{cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(srv.done)
			_ = p.Serve(sctx, ln)
		}()
		p.nsServers[key] = srv
	}
	srv.refs++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.nsMu.Lock()
			srv.refs--
			last := srv.refs == 0
			if last {
				delete(p.nsServers, key)
			}
			p.nsMu.Unlock()
			if last {
				srv.cancel()
				<-srv.done
			}
		})
	}, nil
}
