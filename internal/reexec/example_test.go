package reexec_test

import (
	"fmt"

	"github.com/kavach-go/kavach/internal/reexec"
)

// A package registers its roles in init; main calls Init first, and
// Command starts this binary again in a role.
func Example() {
	// In the package that owns the role:
	//
	//	func init() { reexec.Register("my-role", myRole) }
	//
	// First thing in main (and TestMain):
	reexec.Init() // returns at once: this process is in no role
	fmt.Println(reexec.Current() == "")
	cmd := reexec.Command("test-echo", "x")
	fmt.Println(cmd.Args[0], cmd.Env)
	// Output:
	// true
	// kavach-reexec:test-echo [KAVACH_REEXEC_ROLE=test-echo]
}
