package kavachtest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestLeftBehind checks the leak filter itself: what was there before,
// and another process's container that goes away, are not reported; a
// new item that stays is.
func TestLeftBehind(t *testing.T) {
	calls := 0
	list := func() []string {
		calls++
		if calls == 1 {
			return []string{"old", "theirs", "ours"}
		}
		return []string{"old", "ours", "later"}
	}
	if left := kavachtest.LeftBehind([]string{"old"}, list, 600*time.Millisecond); !slices.Equal(left, []string{"ours"}) {
		t.Fatalf("left behind %v, want [ours]", left)
	}
	if left := kavachtest.LeftBehind(nil, func() []string { return nil }, time.Second); len(left) != 0 {
		t.Fatalf("nothing listed, left behind %v", left)
	}
}
