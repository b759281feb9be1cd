package pool_test

import (
	"os"
	"testing"

	"github.com/kavach-go/kavach"
)

// TestMain dispatches the process backend's sandbox init, which
// BenchmarkPoolGetExec re-executes this test binary as.
func TestMain(m *testing.M) {
	kavach.Init()
	os.Exit(m.Run())
}
