package scan

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

// TestCorpusRecall embeds generated positives of every rule in clean text
// and asks that at least 99 % of them are found by their own rule, at the
// right place.
func TestCorpusRecall(t *testing.T) {
	tp := truePositives(42, 40)
	clean := scancorpus.Clean(8<<10, 7)
	r := rand.New(rand.NewPCG(3, 4))
	total, found := 0, 0
	for _, id := range allRuleIDs() {
		missed := 0
		for _, s := range tp[id] {
			off := r.IntN(len(clean) - 200)
			for off > 0 && clean[off-1] != '\n' {
				off--
			}
			var in bytes.Buffer
			in.Write(clean[:off])
			start := in.Len()
			in.WriteString(s)
			end := in.Len()
			in.WriteString("\n")
			in.Write(clean[off:])
			ok := false
			for _, f := range All().Scan(in.Bytes()) {
				if f.RuleID == id && f.Start < end && f.End > start {
					ok = true
				}
			}
			total++
			if ok {
				found++
			} else {
				missed++
				if missed <= 2 {
					t.Logf("missed %s: %q", id, s)
				}
			}
		}
	}
	recall := float64(found) / float64(total)
	t.Logf("recall %.4f (%d/%d)", recall, found, total)
	if recall < 0.99 {
		t.Errorf("recall %.4f < 0.99", recall)
	}
}

// TestNearMisses asks for no finding at all on negatives that resemble
// positives (Luhn-invalid cards, bad IBAN checksums, SSN 000/666, UUIDs,
// git SHAs, example keys, placeholders, prose mentioning passwords).
func TestNearMisses(t *testing.T) {
	for seed := range uint64(20) {
		for _, s := range scancorpus.NearMisses(rand.New(rand.NewPCG(seed, 9))) {
			if fs := All().Scan([]byte(s)); len(fs) != 0 {
				t.Errorf("near miss %q: %v", s, fs)
			}
		}
	}
}

// TestCleanCorpus asks for no finding on generated clean text.
func TestCleanCorpus(t *testing.T) {
	if fs := All().Scan(scancorpus.Clean(4<<20, 11)); len(fs) != 0 {
		t.Errorf("%d findings on clean text, first %v", len(fs), fs[0])
	}
}

// TestScannersAgreeWithAll checks that the combined scanner reports exactly
// what the three scanners report one by one.
func TestScannersAgreeWithAll(t *testing.T) {
	var in bytes.Buffer
	for _, s := range truePositiveList(5, 2) {
		in.WriteString(s + "\n")
	}
	all := All().Scan(in.Bytes())
	var each []Finding
	for _, s := range []Scanner{Secrets(), Code(), Data()} {
		each = append(each, s.Scan(in.Bytes())...)
	}
	if len(all) != len(each) {
		t.Fatalf("All found %d, the three scanners %d", len(all), len(each))
	}
	count := map[Finding]int{}
	for _, f := range each {
		count[f]++
	}
	for _, f := range all {
		if count[f] == 0 {
			t.Errorf("All reported %v, no single scanner did", f)
		}
		count[f]--
	}
}
