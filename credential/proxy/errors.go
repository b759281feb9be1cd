package proxy

import "errors"

// Sentinel errors returned by this package.
var (
	// ErrBadAllowEntry reports an allowlist entry that cannot be parsed.
	ErrBadAllowEntry = errors.New("bad allowlist entry")
	// ErrBadConfig reports a Config that New refuses, such as a header
	// rule for a host the allowlist does not allow.
	ErrBadConfig = errors.New("bad proxy config")
	// ErrCA reports a failure to create the interception CA or a leaf
	// certificate, or a host outside the CA's name constraints.
	ErrCA = errors.New("interception CA")
	// ErrNetns reports a failure to open a listener in another network
	// namespace.
	ErrNetns = errors.New("listen in network namespace")
	// ErrUnsupported reports a feature missing on this operating system.
	ErrUnsupported = errors.New("unsupported on this platform")
)
