package process

import "github.com/kavach-go/kavach/backend"

// WaitSpare waits until sb's spare init, if one is on its way, is idle
// or has failed, and reports whether an idle spare is there.
func WaitSpare(sb backend.Sandbox) bool {
	s := sb.(*sandbox)
	s.mu.Lock()
	f := s.next
	s.mu.Unlock()
	if f == nil {
		return false
	}
	<-f.done
	return f.sp != nil
}
