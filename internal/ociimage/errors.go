package ociimage

import "errors"

var (
	// ErrNotLayout means the directory is not an OCI image layout.
	ErrNotLayout = errors.New("not an OCI image layout")
	// ErrNoImage means the layout has no image of the requested name, or
	// several and no name was given.
	ErrNoImage = errors.New("image not found in layout")
	// ErrDigest means a blob does not match its digest or size.
	ErrDigest = errors.New("blob does not match its digest")
	// ErrUnsupported means a media type this package cannot unpack.
	ErrUnsupported = errors.New("unsupported media type")
)
