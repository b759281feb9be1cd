package server

import "errors"

var (
	// ErrInsecureListen is returned by Listen for a TCP address that is not
	// loopback when no token authenticates clients.
	ErrInsecureListen = errors.New("refusing to listen on a non-loopback address without a token")
	// ErrAnonymous is returned by Serve for a listener whose clients
	// cannot be told apart (TCP) when the server has no tokens and
	// Options.AllowAnonymous is not set.
	ErrAnonymous = errors.New("refusing to serve a listener without tokens: its clients would share one anonymous identity (set tokens, or allow anonymous clients)")
	// ErrBadListen is returned by Listen for an address it cannot parse.
	ErrBadListen = errors.New("bad listen address")
	// ErrBadToken is returned by ParseTokens for a malformed token file.
	ErrBadToken = errors.New("bad token file")
	// ErrClosed is returned by operations on a server that is shutting down.
	ErrClosed = errors.New("server shutting down")
	// ErrNotFound means no sandbox with that id belongs to the client.
	ErrNotFound = errors.New("sandbox not found")
	// ErrQuota means the client already holds its maximum of live sandboxes.
	ErrQuota = errors.New("sandbox quota exceeded")
	// ErrPath means a file name is not a local path inside the workdir, or
	// resolves (through "..", an absolute name or a symlink) outside it.
	ErrPath = errors.New("path escapes the workdir")
	// ErrTooLarge means a body or file exceeds its size cap.
	ErrTooLarge = errors.New("too large")
	// ErrForbiddenPolicy means a client-supplied policy asks for something
	// a remote client may not choose (host mounts).
	ErrForbiddenPolicy = errors.New("policy not allowed from clients")
)
