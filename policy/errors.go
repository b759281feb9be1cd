package policy

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched by every validation and parse error.
var ErrInvalid = errors.New("invalid policy")

// ErrUnknownPreset is returned for a preset name that is not minimal,
// basic or strict.
var ErrUnknownPreset = errors.New("unknown policy")

// FieldError says which field holds which bad value, and why.
type FieldError struct {
	Field  string // JSON path, e.g. "network.allowed_ports[2]"
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid policy: %s = %v: %s", e.Field, e.Value, e.Reason)
}

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }
