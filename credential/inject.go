package credential

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Target says how a directly injected secret reaches the command.
type Target int

// The injection targets of kavach 1.0's InjectionMethod.
const (
	// TargetEnv sets an environment variable of the command.
	TargetEnv Target = iota + 1
	// TargetFile writes a file on a tmpfs inside the sandbox, mode 0400.
	TargetFile
	// TargetStdin feeds the command's standard input.
	TargetStdin
)

// String returns "env", "file" or "stdin".
func (t Target) String() string {
	switch t {
	case TargetEnv:
		return "env"
	case TargetFile:
		return "file"
	case TargetStdin:
		return "stdin"
	}
	return fmt.Sprintf("target(%d)", int(t))
}

// FileMode is the mode of every injected secret file: readable by the
// sandbox user only, never writable.
const FileMode fs.FileMode = 0o400

// Injection is one direct injection: a secret from Source delivered to the
// command as Target. The command can read the secret; use a HeaderRule to
// keep it out of the sandbox altogether.
type Injection struct {
	Target Target
	// Name is the variable name (TargetEnv) or the absolute path inside the
	// sandbox (TargetFile); empty for TargetStdin.
	Name   string
	Source Source
}

// String returns the command-line form, e.g. "env TOKEN=env:HOST_TOKEN".
func (in Injection) String() string {
	if in.Target == TargetStdin {
		return "stdin " + in.Source.String()
	}
	return in.Target.String() + " " + in.Name + "=" + in.Source.String()
}

// ParseEnvInjection parses the --secret-env form "VAR=SOURCE".
func ParseEnvInjection(s string) (Injection, error) {
	name, src, ok := strings.Cut(s, "=")
	if !ok {
		return Injection{}, fmt.Errorf("parse --secret-env: %w: want VAR=SOURCE", ErrBadInjection)
	}
	if !validEnvName(name) {
		return Injection{}, fmt.Errorf("parse --secret-env: %w: %q is not an environment variable name", ErrBadInjection, name)
	}
	source, err := ParseSource(src)
	if err != nil {
		return Injection{}, fmt.Errorf("parse --secret-env %s: %w", name, err)
	}
	return Injection{Target: TargetEnv, Name: name, Source: source}, nil
}

// ParseFileInjection parses the --secret-file form "PATH=SOURCE". PATH is
// where the file appears inside the sandbox; see ValidSecretPath.
func ParseFileInjection(s string) (Injection, error) {
	p, src, ok := strings.Cut(s, "=")
	if !ok {
		return Injection{}, fmt.Errorf("parse --secret-file: %w: want PATH=SOURCE", ErrBadInjection)
	}
	if err := ValidSecretPath(p); err != nil {
		return Injection{}, fmt.Errorf("parse --secret-file: %w", err)
	}
	source, err := ParseSource(src)
	if err != nil {
		return Injection{}, fmt.Errorf("parse --secret-file %s: %w", p, err)
	}
	return Injection{Target: TargetFile, Name: p, Source: source}, nil
}

// ParseStdinInjection parses the --secret-stdin form "SOURCE".
func ParseStdinInjection(s string) (Injection, error) {
	source, err := ParseSource(s)
	if err != nil {
		return Injection{}, fmt.Errorf("parse --secret-stdin: %w", err)
	}
	return Injection{Target: TargetStdin, Source: source}, nil
}

// systemDirs are directories that a secret file's tmpfs must never cover:
// mounting a fresh tmpfs on them would hide the system (or, for /proc,
// /sys and /dev, is not a place for files at all).
var systemDirs = []string{
	"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
	"/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
}

// ValidSecretPath checks a path for an injected secret file. It must be
// absolute and clean, and its directory must not be a system directory,
// because the backend mounts a fresh tmpfs on that directory (see
// Plan.TmpfsDirs). "/run/secrets/token" is the conventional choice.
func ValidSecretPath(p string) error {
	if p == "" || !path.IsAbs(p) || path.Clean(p) != p || strings.ContainsAny(p, "\x00\n") {
		return fmt.Errorf("%w: secret path %q must be absolute and clean", ErrBadInjection, p)
	}
	dir := path.Dir(p)
	if slices.Contains(systemDirs, dir) || underAny(dir, "/proc", "/sys", "/dev") {
		return fmt.Errorf("%w: secret path %q: its directory %s would be covered by a tmpfs; use a dedicated directory such as /run/secrets", ErrBadInjection, p, dir)
	}
	return nil
}

// underAny reports whether dir is below one of roots.
func underAny(dir string, roots ...string) bool {
	for _, r := range roots {
		if strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

// EnvSecret is one environment variable to set.
type EnvSecret struct {
	Name  string
	Value Secret
}

// FileSecret is one file to write inside the sandbox.
type FileSecret struct {
	// Path is absolute inside the sandbox; its directory is in TmpfsDirs.
	Path  string
	Mode  fs.FileMode
	Value Secret
}

// Plan is what a backend must do to inject a set of secrets directly: the
// resolved values and where they go. The backend carries it out; Plan does
// no I/O inside the sandbox itself.
//
// A backend honours a Plan by:
//
//  1. mounting a fresh tmpfs (nosuid, nodev, noexec, a small size) on each
//     of TmpfsDirs() inside the sandbox, owned by the sandbox user, mode
//     0500, never a host directory;
//  2. writing each of Files there with mode Mode (0400), owned by the
//     sandbox user, from the sandbox side, so the bytes never touch the
//     host's disk;
//  3. adding Env to the command's environment (see AppendEnv);
//  4. writing Stdin, if HasStdin, to the command's standard input and then
//     closing it;
//  5. calling Release once the command has started.
type Plan struct {
	Env      []EnvSecret
	Files    []FileSecret
	Stdin    Secret
	HasStdin bool
}

// Resolve reads every injection's source and returns the plan. On error
// nothing stays resolved. Two injections into the same variable or path
// are an error. Several stdin injections are joined with "\n", as kavach
// 1.0 does.
func Resolve(ctx context.Context, injections []Injection) (*Plan, error) {
	p := &Plan{}
	var stdin [][]byte
	defer func() {
		for _, b := range stdin {
			clear(b)
		}
	}()
	seen := map[string]bool{}
	for _, in := range injections {
		key := in.Target.String() + " " + in.Name
		if in.Target != TargetStdin && seen[key] {
			p.Release()
			return nil, fmt.Errorf("resolve secrets: %w: %s given twice", ErrBadInjection, key)
		}
		seen[key] = true
		switch in.Target {
		case TargetEnv:
			if !validEnvName(in.Name) {
				p.Release()
				return nil, fmt.Errorf("resolve secrets: %w: bad variable name %q", ErrBadInjection, in.Name)
			}
		case TargetFile:
			if err := ValidSecretPath(in.Name); err != nil {
				p.Release()
				return nil, fmt.Errorf("resolve secrets: %w", err)
			}
		case TargetStdin:
		default:
			p.Release()
			return nil, fmt.Errorf("resolve secrets: %w: unknown target %v", ErrBadInjection, in.Target)
		}
		sec, err := in.Source.Resolve(ctx)
		if err != nil {
			p.Release()
			return nil, fmt.Errorf("resolve secrets: %s: %w", in, err)
		}
		switch in.Target {
		case TargetEnv:
			p.Env = append(p.Env, EnvSecret{Name: in.Name, Value: sec})
		case TargetFile:
			p.Files = append(p.Files, FileSecret{Path: in.Name, Mode: FileMode, Value: sec})
		case TargetStdin:
			b, _ := sec.Bytes()
			sec.Release()
			stdin = append(stdin, b)
		}
	}
	if len(stdin) > 0 {
		joined := joinClear(stdin)
		p.Stdin = NewSecret(joined)
		clear(joined)
		p.HasStdin = true
	}
	return p, nil
}

// joinClear joins parts with "\n" into a new slice.
func joinClear(parts [][]byte) []byte {
	n := len(parts) - 1
	for _, b := range parts {
		n += len(b)
	}
	out := make([]byte, 0, n)
	for i, b := range parts {
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, b...)
	}
	return out
}

// TmpfsDirs returns the directories, sorted and without duplicates, on
// which the backend must mount a fresh tmpfs before writing Files.
func (p *Plan) TmpfsDirs() []string {
	var dirs []string
	for _, f := range p.Files {
		dirs = append(dirs, path.Dir(f.Path))
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// AppendEnv appends "NAME=value" for every Env entry to env, replacing an
// entry of the same name already there. The strings it creates cannot be
// zeroed (Go strings are immutable): call it as late as possible, right
// before starting the command.
func (p *Plan) AppendEnv(env []string) []string {
	for _, e := range p.Env {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, e.Name+"=") })
		_ = e.Value.Use(func(b []byte) { env = append(env, e.Name+"="+string(b)) })
	}
	return env
}

// Release zeroes every secret in the plan. It is idempotent.
func (p *Plan) Release() {
	if p == nil {
		return
	}
	for _, e := range p.Env {
		e.Value.Release()
	}
	for _, f := range p.Files {
		f.Value.Release()
	}
	p.Stdin.Release()
}
