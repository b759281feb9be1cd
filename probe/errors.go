package probe

import "errors"

var (
	// ErrNotSandboxed is returned by Guard and Run when the probe is not
	// inside a sandbox: it refuses to run its syscall sweep on a host.
	ErrNotSandboxed = errors.New("probe: not inside a sandbox")
	// ErrHostInfo is returned for missing or malformed host information.
	ErrHostInfo = errors.New("probe: bad host info")
	// ErrOutput is returned by ParseOutput and Evaluate for probe output
	// that cannot be read or does not match the battery.
	ErrOutput = errors.New("probe: bad output")
	// ErrUnsupportedBackend is returned by Supported for a backend kind
	// whose sandboxes cannot run the probe.
	ErrUnsupportedBackend = errors.New("probe: backend cannot run the probe")
	// ErrParse is returned by the /proc parsers for malformed input.
	ErrParse = errors.New("probe: parse")
)
