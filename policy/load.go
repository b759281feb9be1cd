package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// maxFileSize bounds a policy file; real policies are a few hundred bytes.
const maxFileSize = 1 << 20

// Format is a policy file's encoding.
type Format int

// The formats Parse understands.
const (
	JSON Format = iota
	TOML
)

// Load reads a policy file (.json or .toml, by extension), parses it
// strictly (unknown fields are errors: a misspelt restriction must not be
// silently dropped) and validates it.
func Load(path string) (Policy, error) {
	var f Format
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		f = JSON
	case ".toml":
		f = TOML
	default:
		return Policy{}, fmt.Errorf("load policy %s: %w: want a .json or .toml file", path, ErrInvalid)
	}
	fh, err := os.Open(path)
	if err != nil {
		return Policy{}, fmt.Errorf("load policy: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return Policy{}, fmt.Errorf("load policy %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return Policy{}, fmt.Errorf("load policy %s: %w: larger than %d bytes", path, ErrInvalid, maxFileSize)
	}
	p, err := Parse(data, f)
	if err != nil {
		return Policy{}, fmt.Errorf("load policy %s: %w", path, err)
	}
	return p, nil
}

// Resolve returns the preset called name, or loads name as a file when it
// has a .json or .toml extension.
func Resolve(name string) (Policy, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".toml":
		return Load(name)
	}
	return Preset(name)
}

// Parse decodes and validates a policy. Fields absent from the input keep
// the minimal preset's values.
func Parse(data []byte, f Format) (Policy, error) {
	var p Policy
	switch f {
	case JSON:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return Policy{}, fmt.Errorf("%w: json: %w", ErrInvalid, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return Policy{}, fmt.Errorf("%w: json: data after the policy object", ErrInvalid)
		}
	case TOML:
		md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&p)
		if err != nil {
			return Policy{}, fmt.Errorf("%w: toml: %w", ErrInvalid, err)
		}
		if un := md.Undecoded(); len(un) > 0 {
			return Policy{}, fmt.Errorf("%w: toml: unknown field %q", ErrInvalid, un[0].String())
		}
	default:
		return Policy{}, fmt.Errorf("%w: unknown format %d", ErrInvalid, f)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}
