package kavach

import (
	"errors"
	"fmt"

	"github.com/kavach-go/kavach/backend"
)

var (
	// ErrInvalidTransition is matched by every *TransitionError.
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrNotRunning is returned by Exec and Spawn on a sandbox that is not
	// Running.
	ErrNotRunning = errors.New("sandbox not running")
	// ErrInvalidConfig is returned by Create for a bad Config.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInvalidCommand is returned for an empty argv or a malformed
	// environment entry.
	ErrInvalidCommand = errors.New("invalid command")
	// ErrUnavailable is backend.ErrUnavailable: the backend cannot run here.
	ErrUnavailable = backend.ErrUnavailable
	// ErrDestroyed is backend.ErrDestroyed.
	ErrDestroyed = backend.ErrDestroyed
)

// TransitionError reports a state change the state machine forbids. Its
// message is the original's: "lifecycle error: running -> created:
// invalid state transition".
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("lifecycle error: %s -> %s: invalid state transition", e.From, e.To)
}

// Is reports whether target is ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }
