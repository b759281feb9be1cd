package syagnos

import "errors"

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("sandbox stopped")
