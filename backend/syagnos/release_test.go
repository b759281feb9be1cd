package syagnos_test

import (
	"fmt"
	"testing"

	"github.com/kavach-go/kavach/backend/syagnos"
)

func TestParseRelease(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"tier=minimal\n", syagnos.TierMinimal},
		{"tier=dmverity\n", syagnos.TierDMVerity},
		{"NAME=sy-agnos\ntier = \"tpm_measured\"\n", syagnos.TierTPMMeasured},
		{`{"tier":"dmverity","version":"1"}`, syagnos.TierDMVerity},
		{`{"tier":"TPM_MEASURED"}`, syagnos.TierTPMMeasured},
		{"tier=gold\n", syagnos.TierMinimal},
		{"", syagnos.TierMinimal},
		{"version=3\n", syagnos.TierMinimal},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := syagnos.ParseRelease([]byte(tc.in)); got != tc.want {
				t.Errorf("ParseRelease(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseRelease(f *testing.F) {
	for _, s := range []string{"tier=dmverity", `{"tier":"minimal"}`, "tier=", "{", "\x00tier=tpm_measured"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got := syagnos.ParseRelease(b); got < syagnos.TierMinimal || got > syagnos.TierTPMMeasured {
			t.Fatalf("ParseRelease(%q) = %d, out of range", b, got)
		}
	})
}

func ExampleParseRelease() {
	fmt.Println(syagnos.ParseRelease([]byte("NAME=sy-agnos\ntier=dmverity\n")))
	fmt.Println(syagnos.ParseRelease([]byte(`{"tier":"tpm_measured"}`)))
	// Output:
	// 2
	// 3
}
