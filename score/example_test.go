package score_test

import (
	"fmt"

	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/score"
)

func ExamplePolicy() {
	s := score.Policy("process", policy.Strict())
	fmt.Println(s)
	for _, r := range s.Reasons {
		fmt.Println(r)
	}
	// Output:
	// 65 (standard)
	// 50 base (process)
	// +5 seccomp requested (strict)
	// +5 network off requested
	// +3 read-only root requested
	// +2 memory or cpu limit requested
}

func ExampleEnforced() {
	s := score.Enforced("process", score.Facts{
		Seccomp: "strict", SeccompRules: 142,
		LandlockABI: 7, LandlockRules: 9,
		NetworkOff: true, ReadOnlyRoot: true, MemoryLimitMB: 512,
	})
	fmt.Println(s)
	fmt.Println(s.Reasons[1])
	// Output:
	// 68 (standard)
	// +5 seccomp (strict, 142 rules)
}

func ExampleComposite() {
	p := policy.Strict()
	fmt.Println(score.Composite(score.Policy("gvisor", p), score.Policy("process", p)))
	// Output:
	// 90 (fortress)
}
