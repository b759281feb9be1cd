package credential

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// injectionJSON is an Injection on the wire. inject_via has kavach 1.0's
// externally tagged InjectionMethod form:
//
//	{"EnvVar":{"var_name":"API_KEY"}}
//	{"File":{"path":"/run/secrets/key","mode":256}}
//	"Stdin"
//
// kavach 1.0's SecretRef named a secret registered in memory ("name");
// here a secret has a Source instead. When only "name" is present, as in
// a config written for the original, it is read as the host environment
// variable of that name.
type injectionJSON struct {
	Source    string          `json:"source,omitempty"`
	Name      string          `json:"name,omitempty"`
	InjectVia json.RawMessage `json:"inject_via"`
}

type envVarJSON struct {
	VarName string `json:"var_name"`
}

type fileJSON struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
}

// MarshalJSON encodes the injection with its source and kavach 1.0's
// inject_via form. It holds no secret value.
func (in Injection) MarshalJSON() ([]byte, error) {
	var via any
	switch in.Target {
	case TargetEnv:
		via = map[string]envVarJSON{"EnvVar": {VarName: in.Name}}
	case TargetFile:
		via = map[string]fileJSON{"File": {Path: in.Name, Mode: uint32(FileMode)}}
	case TargetStdin:
		via = "Stdin"
	default:
		return nil, fmt.Errorf("marshal injection: %w: unknown target %v", ErrBadInjection, in.Target)
	}
	raw, err := json.Marshal(via)
	if err != nil {
		return nil, err
	}
	return json.Marshal(injectionJSON{Source: in.Source.String(), InjectVia: raw})
}

// UnmarshalJSON decodes both this package's form and kavach 1.0's
// SecretRef. A File's mode is accepted but ignored: secret files are
// always FileMode (0400).
func (in *Injection) UnmarshalJSON(b []byte) error {
	var j injectionJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("unmarshal injection: %w: %w", ErrBadInjection, err)
	}
	var (
		src Source
		err error
	)
	switch {
	case j.Source != "":
		src, err = ParseSource(j.Source)
	case j.Name != "":
		src, err = ParseSource("env:" + j.Name)
	default:
		err = fmt.Errorf("%w: want \"source\" (or kavach 1.0's \"name\")", ErrBadSource)
	}
	if err != nil {
		return fmt.Errorf("unmarshal injection: %w", err)
	}
	var tag string
	if json.Unmarshal(j.InjectVia, &tag) == nil {
		if tag != "Stdin" {
			return fmt.Errorf("unmarshal injection: %w: inject_via %q", ErrBadInjection, tag)
		}
		*in = Injection{Target: TargetStdin, Source: src}
		return nil
	}
	var via struct {
		EnvVar *envVarJSON `json:"EnvVar"`
		File   *fileJSON   `json:"File"`
	}
	if err := json.Unmarshal(j.InjectVia, &via); err != nil {
		return fmt.Errorf("unmarshal injection: %w: inject_via: %w", ErrBadInjection, err)
	}
	switch {
	case via.EnvVar != nil && via.File == nil:
		if !validEnvName(via.EnvVar.VarName) {
			return fmt.Errorf("unmarshal injection: %w: bad var_name %q", ErrBadInjection, via.EnvVar.VarName)
		}
		*in = Injection{Target: TargetEnv, Name: via.EnvVar.VarName, Source: src}
	case via.File != nil && via.EnvVar == nil:
		if err := ValidSecretPath(via.File.Path); err != nil {
			return fmt.Errorf("unmarshal injection: %w", err)
		}
		*in = Injection{Target: TargetFile, Name: via.File.Path, Source: src}
	default:
		return fmt.Errorf("unmarshal injection: %w: inject_via needs exactly one of EnvVar, File, \"Stdin\"", ErrBadInjection)
	}
	return nil
}
