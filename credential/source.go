package credential

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxSecretSize bounds how many bytes a Source may resolve to. Credentials
// are small; a bigger file is a mistake (a wrong path) rather than a key.
const MaxSecretSize = 1 << 20

// SourceKind says where a secret comes from.
type SourceKind int

// The source kinds.
const (
	// SourceEnv is a host environment variable: "env:NAME".
	SourceEnv SourceKind = iota + 1
	// SourceFile is a host file: "file:PATH".
	SourceFile
)

// String returns "env" or "file".
func (k SourceKind) String() string {
	switch k {
	case SourceEnv:
		return "env"
	case SourceFile:
		return "file"
	}
	return fmt.Sprintf("sourcekind(%d)", int(k))
}

// Source names where a secret's value is read from on the host. It holds a
// reference, never the value, so it may be printed and logged.
type Source struct {
	Kind SourceKind
	// Ref is the variable name (SourceEnv) or the file path (SourceFile).
	Ref string
}

// String returns the source in its parseable form, "env:NAME" or
// "file:PATH".
func (s Source) String() string { return s.Kind.String() + ":" + s.Ref }

// ParseSource parses "env:NAME" or "file:PATH". Anything else, in
// particular a literal value, is refused: a literal on a command line shows
// in ps and in /proc/PID/cmdline.
func ParseSource(s string) (Source, error) {
	kind, ref, ok := strings.Cut(s, ":")
	if !ok {
		return Source{}, fmt.Errorf("parse source: %w: want env:NAME or file:PATH (literal values are refused)", ErrBadSource)
	}
	switch kind {
	case "env":
		if !validEnvName(ref) {
			// The name is not echoed: "env:$TOKEN", expanded by a shell,
			// puts the secret itself here.
			return Source{}, fmt.Errorf("parse source: %w: after env: want a variable name (letters, digits and _, not starting with a digit)", ErrBadSource)
		}
		return Source{Kind: SourceEnv, Ref: ref}, nil
	case "file":
		if ref == "" || strings.ContainsRune(ref, 0) {
			return Source{}, fmt.Errorf("parse source: %w: empty or invalid file path", ErrBadSource)
		}
		return Source{Kind: SourceFile, Ref: ref}, nil
	}
	// The kind is not echoed: a mistyped "tok:abc123" could be a secret.
	return Source{}, fmt.Errorf("parse source: %w: unknown kind, want env:NAME or file:PATH (literal values are refused)", ErrBadSource)
}

// Resolve reads the secret's value from the host. A file is read as is,
// up to MaxSecretSize bytes; an environment variable must be set. An empty
// value is an error, since injecting nothing is never what was meant.
func (s Source) Resolve(ctx context.Context) (Secret, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, fmt.Errorf("resolve %s: %w", s, err)
	}
	var b []byte
	switch s.Kind {
	case SourceEnv:
		v, ok := os.LookupEnv(s.Ref)
		if !ok {
			return Secret{}, fmt.Errorf("resolve %s: %w: variable not set", s, ErrSourceNotFound)
		}
		if len(v) > MaxSecretSize {
			return Secret{}, fmt.Errorf("resolve %s: %w", s, ErrSecretTooLarge)
		}
		b = []byte(v)
	case SourceFile:
		var err error
		b, err = readLimited(filepath.Clean(s.Ref))
		if err != nil {
			return Secret{}, fmt.Errorf("resolve %s: %w", s, err)
		}
	default:
		return Secret{}, fmt.Errorf("resolve %s: %w", s, ErrBadSource)
	}
	defer clear(b)
	if len(b) == 0 {
		return Secret{}, fmt.Errorf("resolve %s: %w", s, ErrEmptySecret)
	}
	return NewSecret(b), nil
}

// readLimited reads at most MaxSecretSize bytes of path.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSourceNotFound, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("%w: %w", ErrSourceNotFound, err)
	}
	if len(b) > MaxSecretSize {
		clear(b)
		return nil, ErrSecretTooLarge
	}
	return b, nil
}

// validEnvName reports whether s is a portable environment variable name:
// a letter or underscore, then letters, digits and underscores.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
