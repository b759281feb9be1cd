//go:build !linux

package server

import (
	"errors"
	"net"
)

// peerUID is not implemented off Linux; requests on a Unix socket are
// refused rather than served without an identity.
func peerUID(*net.UnixConn) (int, error) {
	return 0, errors.New("peer credentials: SO_PEERCRED needs linux")
}
