//go:build !linux

package proxy

import (
	"context"
	"fmt"
	"net"
)

// ListenInNetns needs Linux network namespaces; elsewhere it fails.
func ListenInNetns(ctx context.Context, nsPath, addr string) (net.Listener, error) {
	return nil, fmt.Errorf("listen in %s: %w: %w", nsPath, ErrNetns, ErrUnsupported)
}
