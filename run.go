package kavach

import (
	"context"
	"errors"
	"fmt"
)

// Run creates a sandbox from cfg, starts it, runs cmd, and destroys it:
// the one-shot form of Create, Start, Exec and Destroy.
func Run(ctx context.Context, cfg Config, cmd Command) (*Result, error) {
	sb, err := Create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sb.Destroy(context.WithoutCancel(ctx)) }()
	if err := sb.Start(ctx); err != nil {
		return nil, err
	}
	res, err := sb.Exec(ctx, cmd)
	if derr := sb.Destroy(context.WithoutCancel(ctx)); derr != nil {
		err = errors.Join(err, fmt.Errorf("run: %w", derr))
	}
	return res, err
}
