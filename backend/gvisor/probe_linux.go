package gvisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/kavach-go/kavach/backend"
)

type runsc struct{ path, platform string }

// probeCache holds the result of the first successful probe. A failed
// probe is not cached, so installing runsc later is noticed.
type probeCache struct {
	mu sync.Mutex
	ok *runsc // guarded by mu
}

// runsc finds runsc and a platform it can start a sandbox on, by running
// /bin/true under `runsc do` once per platform until one works.
func (b *Backend) runsc(ctx context.Context) (runsc, error) {
	if err := ctx.Err(); err != nil {
		return runsc{}, err
	}
	b.probe.mu.Lock()
	defer b.probe.mu.Unlock()
	if b.probe.ok != nil {
		return *b.probe.ok, nil
	}
	if uid := os.Geteuid(); uid != 0 {
		return runsc{}, backend.Unavailable(backend.GVisor, "needs root to create sandboxes (running as uid %d; rootless runsc is not supported)", uid)
	}
	path := b.path
	if path == "" {
		p, err := exec.LookPath("runsc")
		if err != nil {
			return runsc{}, backend.Unavailable(backend.GVisor, "runsc not found on PATH")
		}
		path = p
	}
	platforms := Platforms
	if b.platform != "" {
		platforms = []string{b.platform}
	}
	var reasons []string
	for _, pl := range platforms {
		if err := tryPlatform(ctx, path, pl); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		b.probe.ok = &runsc{path: path, platform: pl}
		return *b.probe.ok, nil
	}
	return runsc{}, backend.Unavailable(backend.GVisor, "%s", strings.Join(reasons, "; "))
}

func tryPlatform(ctx context.Context, path, platform string) error {
	root, err := os.MkdirTemp("", "kavach-runsc-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, path, "--root", root, "--platform="+platform, "--network=none", "do", "/bin/true")
	c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return fmt.Errorf("runsc --platform=%s cannot start a sandbox: %v: %s", platform, err, msg)
	}
	return nil
}
