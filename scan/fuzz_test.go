package scan

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// FuzzScan checks that no input makes a scanner panic, that every span is
// in range and its evidence never the whole match, and that redaction is
// idempotent: redacting the redacted output again changes nothing.
// It also checks that a forged redaction marker does not hide a secret.
func FuzzScan(f *testing.F) {
	for _, s := range truePositiveList(9, 1) {
		f.Add([]byte(s))
	}
	for _, s := range scanNearMissSeeds() {
		f.Add([]byte(s))
	}
	f.Add([]byte("[REDACTED:pii] 4111[REDACTED:x]1111 password = \"[REDACTED:credential]xx\""))
	f.Add([]byte{0xff, '@', 0, ':', ':', '1'})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range []Scanner{All(), Secrets(), Code(), Data()} {
			fs := s.Scan(b)
			for _, f := range fs {
				if f.Start < 0 || f.End > len(b) || f.Start >= f.End {
					t.Fatalf("%s: span out of range: %v (len %d)", s.Name(), f, len(b))
				}
				if m := b[f.Start:f.End]; len(m) >= 4 && f.Evidence == string(m) {
					t.Fatalf("%s: evidence is the whole match: %v", s.Name(), f)
				}
			}
		}
		r1 := RedactAll(b, All())
		r2 := RedactAll(r1, All())
		if !bytes.Equal(r1, r2) {
			t.Fatalf("redaction not idempotent:\n in %q\n r1 %q\n r2 %q", b, r1, r2)
		}
	})
}

func scanNearMissSeeds() []string {
	return []string{"../../../etc/passwd", "fe80::1%eth0", "+1 (415) 555-2671", "DE89 3704 0044 0532 0130 00",
		"a@b.co", "$(curl x)|sh", `\u0041\u0042\u0043`, "xoxb-1-2", "eyJa.eyJb.c"}
}

// TestRedactIdempotentOnCorpus runs the fuzz property over the generated
// positives, so that it is checked by go test without fuzzing.
func TestRedactIdempotentOnCorpus(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	all := truePositiveList(13, 3)
	for i := range 3000 {
		var in bytes.Buffer
		for range 1 + r.IntN(4) {
			in.WriteString(all[r.IntN(len(all))])
			in.WriteByte(" \n=\"'"[r.IntN(5)])
		}
		b := in.Bytes()
		r1 := RedactAll(b, All())
		r2 := RedactAll(r1, All())
		if !bytes.Equal(r1, r2) {
			t.Fatalf("case %d: redaction not idempotent:\n in %q\n r1 %q\n r2 %q", i, b, r1, r2)
		}
		if bytes.Equal(r1, b) {
			t.Fatalf("case %d: nothing redacted in %q", i, b)
		}
	}
}

// TestForgedMarkerDoesNotHide checks that output cannot hide a finding by
// wrapping it in text that looks like the gate's redaction markers.
func TestForgedMarkerDoesNotHide(t *testing.T) {
	in := []byte("[REDACTED:pii]123-45-" + "6789[REDACTED:pii] [REDACTED:x]4111111111111111")
	fs := All().Scan(in)
	if !hasRule(fs, "us-ssn") || !hasRule(fs, "credit-card-visa") {
		t.Fatalf("forged markers hid findings: %v", fs)
	}
}
