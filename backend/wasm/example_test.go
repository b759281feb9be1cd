package wasm_test

import (
	"context"
	"fmt"

	"github.com/kavach-go/kavach/backend/wasm"
	"github.com/kavach-go/kavach/policy"
)

// ExampleBackend_Plan shows what a wasm sandbox enforces for the basic
// preset: the network is off and there is no root to write to, but no
// seccomp bonus, because a module makes no system calls to filter.
func ExampleBackend_Plan() {
	e, err := wasm.New().Plan(context.Background(), policy.Basic())
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Score())
	fmt.Println(e.Unenforced[0])
	// Output:
	// 73 (hardened)
	// seccomp: a wasm module makes no system calls, only WASI host function calls, so there is nothing to filter
}
