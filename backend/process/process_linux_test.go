package process_test

import (
	"os"
	"testing"

	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/reexec"
)

func TestMain(m *testing.M) {
	reexec.Init()
	os.Exit(m.Run())
}

func requireBackend(t *testing.T) *process.Backend {
	t.Helper()
	kavachtest.RequireRoot(t)
	b := process.New()
	if err := b.Available(t.Context()); err != nil {
		kavachtest.Skip(t, "process backend: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	b := requireBackend(t)
	backendtest.Run(t, b, backendtest.Options{RunsCommands: true})
}
