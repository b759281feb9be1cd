package guard

import (
	"errors"
	"math"
	"testing"
)

func TestEnforce(t *testing.T) {
	vs := CheckCommand([]string{"python3", "/etc/shadow"}, Config{})
	if err := (Config{}).Enforce(vs); err != nil {
		t.Fatalf("the default config denies nothing, got %v", err)
	}
	cfg := Config{Deny: []ViolationType{SensitivePath}}
	err := cfg.Enforce(vs)
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("Enforce = %v, want ErrDenied", err)
	}
	var de *DeniedError
	if !errors.As(err, &de) || len(de.Violations) != 1 || de.Violations[0].Type != SensitivePath {
		t.Fatalf("denied violations = %+v", de)
	}
	if want := "guard: exec denied: sensitive_path: sensitive path /etc/shadow in argument 1"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if err := cfg.Enforce(nil); err != nil {
		t.Errorf("no violations: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"default", DefaultConfig(), true},
		{"negative max pids", Config{MaxPids: -1}, false},
		{"fraction above one", Config{PidsNearFraction: 1.5}, false},
		{"NaN multiplier", Config{TimeAnomalyMultiplier: math.NaN()}, false},
		{"unknown deny", Config{Deny: []ViolationType{"nope"}}, false},
		{"upper-case path", Config{SensitivePaths: []string{"/ETC"}}, false},
		{"blank metachar", Config{ShellMetachars: []string{" "}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("%v does not match ErrInvalidConfig", err)
			}
		})
	}
}
