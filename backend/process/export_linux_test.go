package process

import (
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/cgroup"
)

// WaitSpare waits until sb's spare init, if one is on its way, is idle
// or has failed, and reports whether an idle spare is there.
func WaitSpare(sb backend.Sandbox) bool {
	s := sb.(*sandbox)
	var f *spareFuture
	// The next spare is started once the last command's init is reaped.
	for deadline := time.Now().Add(time.Second); f == nil && time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		f = s.peekNext()
	}
	if f == nil {
		return false
	}
	<-f.done
	return f.sp != nil
}

// SparePID returns the pid of sb's idle spare init, or 0.
func SparePID(sb backend.Sandbox) int {
	if !WaitSpare(sb) {
		return 0
	}
	s := sb.(*sandbox)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil || s.next.sp == nil {
		return 0
	}
	return s.next.sp.cmd.Process.Pid
}

// WithCgroupHost makes the backend use hierarchy h instead of the one it
// detects.
func WithCgroupHost(h cgroup.Host) Option { return func(o *options) { o.cgroupHost = &h } }

// SpareIdle reports, without waiting, whether sb has a spare init that
// has reported idle.
func SpareIdle(sb backend.Sandbox) bool {
	f := sb.(*sandbox).peekNext()
	if f == nil {
		return false
	}
	select {
	case <-f.done:
		return f.sp != nil
	default:
		return false
	}
}
