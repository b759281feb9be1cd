package process

import (
	"time"

	"github.com/kavach-go/kavach/backend"
)

// WaitSpare waits until sb's spare init, if one is on its way, is idle
// or has failed, and reports whether an idle spare is there.
func WaitSpare(sb backend.Sandbox) bool {
	s := sb.(*sandbox)
	var f *spareFuture
	// The next spare is started once the last command's init is reaped.
	for deadline := time.Now().Add(time.Second); f == nil && time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		s.mu.Lock()
		f = s.next
		s.mu.Unlock()
	}
	if f == nil {
		return false
	}
	<-f.done
	return f.sp != nil
}
