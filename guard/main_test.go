package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// childEnv makes the test binary, re-executed inside new namespaces, run
// CheckIntegrity against the host namespaces in hostNSEnv and print the
// report as JSON instead of running tests.
const (
	childEnv  = "KAVACH_GUARD_INTEGRITY_CHILD"
	hostNSEnv = "KAVACH_GUARD_HOST_NS"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(integrityChild())
	}
	os.Exit(m.Run())
}

func integrityChild() int {
	host, err := ParseNamespaces(os.Getenv(hostNSEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := CheckIntegrity(context.Background(), host)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 2
	}
	return 0
}
