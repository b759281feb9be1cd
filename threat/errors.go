package threat

import "errors"

var (
	// ErrSuspended is matched by Check's error for an agent the tracker
	// escalated to Tier3Suspend.
	ErrSuspended = errors.New("threat: agent suspended")
	// ErrRevoked is matched by Check's error for an agent the tracker
	// escalated to Tier4Revoke.
	ErrRevoked = errors.New("threat: agent revoked")
	// ErrCorrupt is returned when the tracker's state file cannot be
	// parsed or fails validation. The file is left as it is.
	ErrCorrupt = errors.New("threat: corrupt offender state")
	// ErrInvalidConfig is returned for a TrackerConfig that fails
	// validation (the original panics on a zero window).
	ErrInvalidConfig = errors.New("threat: invalid tracker config")
	// ErrInvalidInput is returned by Record for an empty agent id or a
	// score that is not a finite number in [0, 1].
	ErrInvalidInput = errors.New("threat: invalid input")
)
