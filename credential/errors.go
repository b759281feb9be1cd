package credential

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them,
// and no error message ever contains a secret's value.
var (
	// ErrBadSource reports a source that is not "env:NAME" or "file:PATH".
	ErrBadSource = errors.New("bad secret source")
	// ErrSourceNotFound reports an environment variable that is not set or
	// a file that cannot be read.
	ErrSourceNotFound = errors.New("secret source not found")
	// ErrEmptySecret reports a source that resolved to no bytes.
	ErrEmptySecret = errors.New("secret is empty")
	// ErrSecretTooLarge reports a source larger than MaxSecretSize.
	ErrSecretTooLarge = errors.New("secret too large")
	// ErrBadInjection reports a malformed --secret-env, --secret-file or
	// --secret-stdin specification.
	ErrBadInjection = errors.New("bad secret injection")
	// ErrBadHeaderRule reports a malformed --secret-header specification,
	// or a secret that cannot be sent in an HTTP header.
	ErrBadHeaderRule = errors.New("bad secret header rule")
	// ErrReleased reports use of a Secret after Release.
	ErrReleased = errors.New("secret released")
)
