package scan

import "errors"

// ErrNoStore is returned by Gate.Apply when the verdict is Quarantine and
// the gate has no store: quarantined output is never silently dropped.
var ErrNoStore = errors.New("quarantine store not configured")

// ErrStore wraps a failure of the quarantine store.
var ErrStore = errors.New("quarantine store failed")
