package kavach

import (
	"fmt"
	"strings"
)

// State is a sandbox's lifecycle state.
type State int

// The states of kavach 1.0.
const (
	Created State = iota
	Running
	Paused
	Stopped
	Destroyed
)

var stateNames = [...]string{"Created", "Running", "Paused", "Stopped", "Destroyed"}

// States returns every state in order.
func States() []State { return []State{Created, Running, Paused, Stopped, Destroyed} }

// String returns the lower-case name, as the original's Display.
func (s State) String() string {
	if s < Created || s > Destroyed {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return strings.ToLower(stateNames[s])
}

// MarshalText encodes the original's serde name ("Running").
func (s State) MarshalText() ([]byte, error) {
	if s < Created || s > Destroyed {
		return nil, fmt.Errorf("marshal state %d: out of range", int(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText accepts a state name in any case.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if strings.EqualFold(n, string(b)) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("parse state %q: unknown", b)
}

// CanTransition reports whether the state machine allows from → to:
// exactly the original's eight transitions (Created→Running;
// Running→Paused|Stopped|Destroyed; Paused→Running|Stopped|Destroyed;
// Stopped→Destroyed) plus Created→Destroyed, so that a sandbox that never
// started can be destroyed.
func CanTransition(from, to State) bool {
	switch from {
	case Created:
		return to == Running || to == Destroyed
	case Running:
		return to == Paused || to == Stopped || to == Destroyed
	case Paused:
		return to == Running || to == Stopped || to == Destroyed
	case Stopped:
		return to == Destroyed
	}
	return false
}
