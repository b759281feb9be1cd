package process_test

import (
	"fmt"

	"github.com/kavach-go/kavach/backend/process"
)

// A program that uses the process backend calls reexec.Init (or
// kavach.Init) first thing in main, then creates sandboxes:
//
//	func main() {
//		kavach.Init()
//		b := process.New()
//		sb, err := b.Create(ctx, backend.Spec{ID: "job-1", Policy: policy.Strict()})
//		...
//		p, err := sb.Start(ctx, &backend.Command{Args: []string{"python3", "job.py"}, ...})
//		st, err := p.Wait()
//		sb.Destroy(ctx)
//	}
func Example() {
	b := process.New()
	fmt.Println(b.Kind(), process.WorkdirPath, process.SandboxUID)
	// Output: process /work 1000
}
