package bundle

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/kavach-go/kavach/internal/landlock"
)

func TestInnerStageArgs(t *testing.T) {
	tests := []struct {
		name string
		st   *InnerStage
	}{
		{"none", nil},
		{"seccomp only", &InnerStage{Seccomp: "strict"}},
		{"landlock", &InnerStage{Seccomp: "basic", Landlock: &InnerLandlock{ABI: 6, Scoped: true, RestrictTCP: true, Ports: []uint16{443},
			Rules: []landlock.Rule{{Path: "/", Access: landlock.ReadAccess}, {Path: "/tmp", Access: landlock.HandledFS(6)}}}}},
		{"dry run", &InnerStage{DryRun: true, Landlock: &InnerLandlock{ABI: 1, Rules: []landlock.Rule{{Path: "/", Access: landlock.ReadAccess}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec(Options{}, Layout{Rootfs: "/r"}, Command{Args: []string{"true"}, Inner: tc.st})
			a, err := parseInitArgs(s.Process.Args[1:])
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeInner(a.inner)
			if err != nil || !reflect.DeepEqual(got, tc.st) {
				t.Errorf("round trip %+v: got %+v, %v", tc.st, got, err)
			}
			if !slices.Equal(a.argv, []string{"true"}) {
				t.Errorf("argv %q", a.argv)
			}
		})
	}
	if _, err := decodeInner("{"); err == nil {
		t.Error("decodeInner accepted bad JSON")
	}
	ctx := context.Background()
	if innerStageFrom(ctx) != nil {
		t.Error("a plain context carries a stage")
	}
	st := &InnerStage{Seccomp: "basic"}
	if innerStageFrom(WithInnerStage(ctx, st)) != st {
		t.Error("WithInnerStage lost the stage")
	}
}

func FuzzDecodeInner(f *testing.F) {
	f.Add(`{"seccomp":"strict"}`)
	f.Add(`{"landlock":{"abi":6,"rules":[{"Path":"/","Access":7}]},"dry_run":true}`)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := decodeInner(s)
		if err != nil || st == nil {
			return
		}
		again, err := decodeInner(encodeInner(st))
		if err != nil || encodeInner(again) != encodeInner(st) {
			t.Fatalf("%q decoded to %+v, which does not round-trip: %+v %v", s, st, again, err)
		}
	})
}
