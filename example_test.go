package kavach_test

import (
	"context"
	"fmt"
	"log"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
)

// Example mirrors the README's quick start: create a sandbox, start it,
// run a command, read the result, destroy it. It uses the noop backend so
// that it runs anywhere; with backend.Process (the default) the command
// really runs, isolated.
func Example() {
	ctx := context.Background()
	sb, err := kavach.Create(ctx, kavach.Config{
		Backend: backend.Noop,
		Policy:  policy.Strict(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Destroy(ctx)
	if err := sb.Start(ctx); err != nil {
		log.Fatal(err)
	}
	res, err := sb.Exec(ctx, kavach.Shell("echo hello from the sandbox"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", sb.State())
	fmt.Println("exit:", res.ExitCode, res.Termination)
	fmt.Println("score:", res.Score) // noop enforces nothing, and says so
	// Output:
	// state: running
	// exit: 0 exited
	// score: 0 (minimal)
}

// ExampleCanTransition shows the lifecycle rules.
func ExampleCanTransition() {
	fmt.Println(kavach.CanTransition(kavach.Created, kavach.Destroyed))
	fmt.Println(kavach.CanTransition(kavach.Stopped, kavach.Running))
	// Output:
	// true
	// false
}
