package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kavach-go/kavach/audit"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.log")
	key := []byte("a key kept away from the sandbox")

	w, err := audit.Open(ctx, path, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, _ := w.Append(ctx, "exec", map[string]any{"argv": []string{"echo", "hi"}, "exit_code": 0})
	fmt.Println(rec.Serial, rec.EventType, string(rec.Payload))
	w.Close()

	rep, err := audit.Verify(ctx, path, key)
	fmt.Println(rep.Records, rep.Checkpoint, err)

	// Cut the last record: the checkpoint notices.
	b, _ := os.ReadFile(path)
	lastLine := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	os.WriteFile(path, b[:lastLine], 0o600)
	_, err = audit.Verify(ctx, path, key)
	fmt.Println(errors.Is(err, audit.ErrTampered))
	// Output:
	// 1 exec {"argv":["echo","hi"],"exit_code":0}
	// 2 true <nil>
	// true
}
