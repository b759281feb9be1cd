package noop_test

import (
	"testing"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/backendtest"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/policy"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, noop.New(), backendtest.Options{RunsCommands: false})
}

func TestScoresZero(t *testing.T) {
	sb, err := noop.New().Create(t.Context(), backendtestSpec())
	if err != nil {
		t.Fatal(err)
	}
	if s := sb.Enforced().Score(); s.Value != 0 || s.Label != "minimal" {
		t.Errorf("noop enforces nothing, scores %v", s)
	}
}

func backendtestSpec() backend.Spec { return backend.Spec{ID: "noop-test", Policy: policy.Strict()} }
