package oci

import "errors"

// ErrUnknownRuntime is returned for a WithRuntime name other than crun
// or runc.
var ErrUnknownRuntime = errors.New("unknown OCI runtime")
