package composite

import (
	"errors"
	"fmt"

	"github.com/kavach-go/kavach/backend"
)

// ErrUnsupportedPair is wrapped by New's error for a pair of kinds that
// cannot be layered.
var ErrUnsupportedPair = errors.New("unsupported composite pair")

// PairError says why an outer and inner kind cannot be layered.
type PairError struct {
	Outer, Inner backend.Kind
	Reason       string
}

func (e *PairError) Error() string {
	return fmt.Sprintf("composite %s outer, %s inner: %s", e.Outer, e.Inner, e.Reason)
}

// Is reports whether target is ErrUnsupportedPair.
func (e *PairError) Is(target error) bool { return target == ErrUnsupportedPair }
