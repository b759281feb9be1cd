package quarantine_test

import (
	"context"
	"fmt"
	"os"

	"github.com/kavach-go/kavach/quarantine"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "quarantine-example")
	defer os.RemoveAll(dir)
	store, err := quarantine.New(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	id, _ := store.Put(ctx, []byte("output with a token"), map[string]string{"verdict": "quarantine", "worst_severity": "high"})

	m, _ := store.Get(ctx, id)
	fmt.Println(m.Status, m.ScanResult.Verdict, m.ScanResult.WorstSeverity)

	_, _, err = store.Release(ctx, id, "alice")
	fmt.Println(err != nil)

	store.Approve(ctx, id, "alice")
	artifact, m, _ := store.Release(ctx, id, "alice")
	fmt.Println(m.Status, string(artifact))
	// Output:
	// Quarantined Quarantine High
	// true
	// Released output with a token
}
