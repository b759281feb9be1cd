package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCrunHybridProblem(t *testing.T) {
	tests := []struct {
		name, controllers string
		want              []string
	}{
		{"no unified hierarchy", "-", nil},
		{"empty unified hierarchy", "", nil},
		{"hugetlb on unified", "hugetlb\n", []string{"hugetlb controller is in use by the unified (v2) hierarchy", "mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb"}},
		{"two controllers", "hugetlb misc\n", []string{"hugetlb, misc controller", "-o misc cgroup /sys/fs/cgroup/misc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.controllers != "-" {
				if err := os.MkdirAll(filepath.Join(root, "unified"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, "unified", "cgroup.controllers"), []byte(tc.controllers), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := crunHybridProblemAt(root)
			if (got == "") != (tc.want == nil) {
				t.Fatalf("got %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}
