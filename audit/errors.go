package audit

import (
	"errors"
	"strconv"
)

// ErrTampered is the sentinel every verification failure matches: the log,
// its records or its checkpoint are not what the key holder wrote.
var ErrTampered = errors.New("audit chain tampered")

// ErrEmptyKey is returned for a key of zero length.
var ErrEmptyKey = errors.New("audit key is empty")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit writer closed")

// ErrCheckpoint marks a failure to update <log>.checkpoint after the records
// themselves were written durably.
var ErrCheckpoint = errors.New("audit checkpoint not updated")

// ErrPayload is returned when a payload cannot be recorded (not JSON, or not
// representable the way kavach 1.0 hashes it).
var ErrPayload = errors.New("invalid audit payload")

// ChainError names the first record at which verification failed and why.
// Serial is the serial the record at that position must have (its index
// in the log), Line its 1-based line number.
type ChainError struct {
	Serial uint64
	Line   int
	Reason string
}

// Error reports the serial, the line and the reason.
func (e *ChainError) Error() string {
	s := "audit chain broken at serial " + strconv.FormatUint(e.Serial, 10)
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return s + ": " + e.Reason
}

// Is makes every ChainError match ErrTampered.
func (e *ChainError) Is(target error) bool { return target == ErrTampered }
