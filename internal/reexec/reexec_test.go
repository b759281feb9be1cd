package reexec_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/internal/reexec"
)

func init() {
	reexec.Register("test-echo", func() {
		os.Stdout.WriteString(strings.Join(os.Args[1:], " ") + "|" + reexec.Current() + "\n")
		os.Exit(7)
	})
}

func TestMain(m *testing.M) {
	reexec.Init()
	os.Exit(m.Run())
}

func TestCommandRunsRole(t *testing.T) {
	out, err := reexec.Command("test-echo", "a", "b").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("role exit: %v (want exit status 7)", err)
	}
	if got := string(out); got != "a b|test-echo\n" {
		t.Errorf("role output %q", got)
	}
}

func TestMarkerNeedsBoth(t *testing.T) {
	tests := []struct {
		name string
		env  []string
	}{
		{"argv0 only", nil},
		{"mismatched env", []string{reexec.EnvRole + "=other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := reexec.Command("test-echo", "-test.run=^TestNothing$")
			cmd.Env = tt.env
			out, err := cmd.CombinedOutput()
			if err != nil || strings.Contains(string(out), "test-echo") {
				t.Errorf("process entered the role without both markers: %v %q", err, out)
			}
		})
	}
}

func TestNothing(t *testing.T) {}

func TestCurrentOutsideRole(t *testing.T) {
	if got := reexec.Current(); got != "" {
		t.Errorf("Current() = %q outside a role", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("second Register of the same role did not panic")
		}
	}()
	reexec.Register("test-echo", func() {})
}

func BenchmarkInitNoRole(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		reexec.Init()
	}
}
