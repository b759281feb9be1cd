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

// ServeInNetns needs Linux network namespaces; elsewhere it fails.
func (p *Proxy) ServeInNetns(ctx context.Context, pid int, addr string) (stop func(), err error) {
	return nil, fmt.Errorf("serve in netns of %d: %w: %w", pid, ErrNetns, ErrUnsupported)
}
