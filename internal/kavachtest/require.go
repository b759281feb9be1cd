// Package kavachtest holds the test gates shared by kavach's tests.
//
// A gate skips a test whose precondition (root, a binary, a kernel
// feature) is missing, and says in the skip message what was needed and
// what was found. With KAVACH_TEST_STRICT=1 in the environment, as .ci/run
// sets it, a gate fails the test instead, so CI cannot go green by
// skipping the tests that prove isolation.
package kavachtest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// Strict reports whether KAVACH_TEST_STRICT asks for skips to fail.
func Strict() bool {
	v := os.Getenv("KAVACH_TEST_STRICT")
	return v != "" && v != "0" && v != "false"
}

// Skip skips t with the formatted reason, or fails it in strict mode.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("KAVACH_TEST_STRICT: precondition missing: %s", msg)
	}
	t.Skip(msg)
}

// RequireLinux skips unless the test runs on Linux.
func RequireLinux(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		Skip(t, "requires linux, running on %s", runtime.GOOS)
	}
}

// RequireRoot skips unless the test runs as uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	RequireLinux(t)
	if uid := os.Geteuid(); uid != 0 {
		Skip(t, "requires root, running as uid %d", uid)
	}
}

// RequireBinary skips unless name is on PATH, and returns its path.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "requires binary %q on PATH: %v", name, err)
	}
	return p
}

// RequireFile skips unless path exists.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Skip(t, "requires %s: %v", path, err)
	}
}

// RequireLandlockABI skips unless the kernel offers Landlock ABI n or later.
func RequireLandlockABI(t testing.TB, n int) {
	t.Helper()
	RequireLinux(t)
	abi, err := LandlockABI()
	if err != nil {
		Skip(t, "requires landlock ABI %d: %v", n, err)
	}
	if abi < n {
		Skip(t, "requires landlock ABI %d, kernel has %d", n, abi)
	}
}
