package scan

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveEntropy is the reference: every maximal token run, tested.
func naiveEntropy(b []byte) []Finding {
	var out []Finding
	for i := 0; i < len(b); {
		if classes[b[i]]&clsToken == 0 {
			i++
			continue
		}
		e := i
		for e < len(b) && classes[b[e]]&clsToken != 0 {
			e++
		}
		if e-i >= entropyMinLen && highEntropy(b[i:e]) {
			out = append(out, Finding{Scanner: "secrets", RuleID: "high-entropy", Category: "high_entropy",
				Severity: Low, Message: "high-entropy string detected", Start: i, End: e})
		}
		i = e
	}
	return out
}

func TestEntropyPassMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	alpha := []byte("aB3xZ9+/=_-q7Kp \n.:,\t")
	for round := range 2000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			if r.IntN(3) == 0 {
				b[i] = alpha[r.IntN(len(alpha))]
			} else {
				b[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[r.IntN(62)]
			}
		}
		var got []Finding
		entropyPass(b, func(f Finding) { got = append(got, f) })
		if want := naiveEntropy(b); !slices.Equal(got, want) {
			t.Fatalf("round %d %q:\n got  %v\n want %v", round, b, got, want)
		}
	}
}
