package quarantine

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned for an id that is not in the store.
	ErrNotFound = errors.New("quarantine item not found")
	// ErrInvalidID is returned for an id that is not a UUID.
	ErrInvalidID = errors.New("invalid quarantine id")
	// ErrInvalidTransition is returned when the item's status does not
	// allow the requested change.
	ErrInvalidTransition = errors.New("invalid quarantine transition")
	// ErrCorrupt is returned when an item's files are unreadable or the
	// artifact does not match its recorded size and SHA-256.
	ErrCorrupt = errors.New("quarantine item corrupt")
)

// TransitionError says which change was refused and from which status.
type TransitionError struct {
	ID   string
	From Status
	To   Status
}

// Error reports the id, the current status and the refused target.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("quarantine item %s is %s: cannot become %s (allowed: %s)", e.ID, e.From, e.To, allowedFrom(e.From))
}

// Is makes a TransitionError match ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }
