package procinit_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestFewDependencies keeps the init's dependencies light: the package's
// initialiser runs the init before the rest of the program initialises
// only while nothing heavy (wazero, JSON Schema, the MCP SDK, the policy
// or backend packages) is among its dependencies, because Go initialises
// every dependency first.
func TestFewDependencies(t *testing.T) {
	goBin := kavachtest.RequireBinary(t, "go")
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/kavach-go/kavach/internal/procinit").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"golang.org/x/sys/unix":                         true,
		"github.com/kavach-go/kavach/internal/landlock": true,
		"github.com/kavach-go/kavach/internal/reexec":   true,
		"github.com/kavach-go/kavach/internal/seccomp":  true,
		"github.com/kavach-go/kavach/internal/procinit": true,
	}
	for dep := range strings.FieldsSeq(string(out)) {
		if !allowed[dep] {
			t.Errorf("internal/procinit depends on %s: every package it depends on initialises before the sandbox init starts", dep)
		}
	}
}
