package seccomp

import (
	"os"
	"testing"
)

// envChild selects a child mode when the test binary re-executes itself:
// a seccomp filter is irreversible, so every test that applies one does it
// in a child process (child_linux_test.go).
const envChild = "KAVACH_SECCOMP_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}
