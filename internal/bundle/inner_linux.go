package bundle

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/landlock"
)

// seccomp returns the inner filter's profile; st may be nil.
func (st *InnerStage) seccomp() string {
	if st == nil {
		return ""
	}
	return st.Seccomp
}

// capHeader and capData mirror the kernel's capget/capset structures
// (version 3: two 32-bit words per set).
type capHeader struct {
	version uint32
	pid     int32
}

type capData struct{ effective, permitted, inheritable uint32 }

const capV3 = 0x20080522

// applyLandlock runs the stage's part before the seccomp filters: it
// drops every capability the process still holds (none, under kavach's
// spec: the stage does not rely on it) and restricts the calling thread,
// which must be locked to its goroutine, with the Landlock ruleset. The
// caller has set no_new_privs.
func (st *InnerStage) applyLandlock() error {
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("clear ambient capabilities: %w", e)
	}
	hdr := capHeader{version: capV3}
	var data [2]capData
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if st.Landlock == nil {
		return nil
	}
	_, err := landlock.RestrictThread(landlock.Config{
		ABI:         st.Landlock.ABI,
		Rules:       st.Landlock.Rules,
		RestrictTCP: st.Landlock.RestrictTCP,
		Ports:       st.Landlock.Ports,
		Scoped:      st.Landlock.Scoped,
	})
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return nil
}
