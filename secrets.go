package kavach

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/credential"
)

// minRedactLen is the shortest injected secret that output redaction
// replaces; shorter values would match ordinary text.
const minRedactLen = 4

// resolveSecrets reads Config.Secrets when the sandbox starts. Files go
// to the backend (a tmpfs inside the sandbox, never the host disk); env
// and stdin secrets are added to each command.
func (s *Sandbox) resolveSecrets(ctx context.Context) ([]backend.File, error) {
	if len(s.cfg.Secrets) == 0 {
		return nil, nil
	}
	plan, err := credential.Resolve(ctx, s.cfg.Secrets)
	if err != nil {
		return nil, err
	}
	s.plan = plan
	files := make([]backend.File, 0, len(plan.Files))
	for _, f := range plan.Files {
		b, err := f.Value.Bytes()
		if err != nil {
			return nil, fmt.Errorf("secret file %s: %w", f.Path, err)
		}
		files = append(files, backend.File{Path: f.Path, Data: b, Mode: uint32(f.Mode)})
	}
	return files, nil
}

// secretEnv adds the env secrets to env.
func (s *Sandbox) secretEnv(env []string) []string {
	if s.plan == nil {
		return env
	}
	return s.plan.AppendEnv(env)
}

// secretStdin returns the stdin secret as the command's input when the
// command brings none.
func (s *Sandbox) secretStdin(stdin io.Reader) io.Reader {
	if stdin != nil || s.plan == nil || !s.plan.HasStdin {
		return stdin
	}
	b, err := s.plan.Stdin.Bytes()
	if err != nil {
		return nil
	}
	return bytes.NewReader(b)
}

// redactSecrets replaces every injected secret value in out with
// "[REDACTED:credential]": a command that prints the credential it was
// given does not get it out through its output.
func (s *Sandbox) redactSecrets(out []byte) []byte {
	if s.plan == nil || len(out) == 0 {
		return out
	}
	repl := []byte("[REDACTED:credential]")
	each := func(sec credential.Secret) {
		_ = sec.Use(func(b []byte) {
			if len(b) >= minRedactLen && bytes.Contains(out, b) {
				out = bytes.ReplaceAll(out, b, repl)
			}
		})
	}
	for _, e := range s.plan.Env {
		each(e.Value)
	}
	for _, f := range s.plan.Files {
		each(f.Value)
	}
	if s.plan.HasStdin {
		each(s.plan.Stdin)
	}
	return out
}
