package landlock

import "errors"

var (
	// ErrUnsupported means the kernel offers no Landlock, or not the ABI a
	// requested feature needs.
	ErrUnsupported = errors.New("landlock not supported")
)
