package syagnos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
)

// Tiers of a sy-agnos image, as Enforced.SyAgnosTier numbers them.
const (
	TierUnknown     = 0 // no /etc/sy-agnos-release
	TierMinimal     = 1 // "minimal", and any value not known (as the original)
	TierDMVerity    = 2 // "dmverity"
	TierTPMMeasured = 3 // "tpm_measured"
)

// ParseRelease reads the tier from the contents of /etc/sy-agnos-release:
// either JSON {"tier": "..."} or a line "tier=...". A file with neither,
// or an unknown value, counts as minimal, as in the original.
func ParseRelease(b []byte) int {
	var j struct {
		Tier string `json:"tier"`
	}
	if err := json.Unmarshal(b, &j); err == nil && j.Tier != "" {
		return tierOf(j.Tier)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && strings.TrimSpace(k) == "tier" {
			return tierOf(strings.Trim(strings.TrimSpace(v), `"'`))
		}
	}
	return TierMinimal
}

func tierOf(s string) int {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "dmverity":
		return TierDMVerity
	case "tpm_measured":
		return TierTPMMeasured
	}
	return TierMinimal
}
