package scan

// The entropy detector's thresholds. A token is a maximal run of
// [A-Za-z0-9+/=_-]. It is reported when it is between entropyMinLen and
// entropyMaxLen bytes long (trailing '=' padding not counted), has more
// than entropyBits bits of Shannon entropy per byte (the original's
// threshold; in practice only tokens of 23 bytes or more can reach it),
// holds an upper-case letter, a lower-case letter and a digit, has fewer
// than three '/' (more is a path), and is no placeholder. Hex digests and
// UUIDs top out at 4 bits per byte and so are never reported; longer runs
// are encoded blobs (images, archives), not keys.
const (
	entropyMinLen = 20
	entropyMaxLen = 256
	entropyBits   = 4.5
)

// entropyPass reports high-entropy tokens (severity Low); see classPass.
func entropyPass(b []byte, emit func(Finding)) { classPass(b, true, false, emit) }

// highEntropy applies the thresholds above to one token.
func highEntropy(t []byte) bool {
	for len(t) > 0 && t[len(t)-1] == '=' {
		t = t[:len(t)-1]
	}
	if len(t) < entropyMinLen || len(t) > entropyMaxLen {
		return false
	}
	var up, low, dig bool
	slashes := 0
	for _, c := range t {
		k := classes[c]
		up = up || k&clsUpper != 0
		low = low || k&clsLower != 0
		dig = dig || k&clsDigit != 0
		if c == '/' {
			slashes++
		}
	}
	if !up || !low || !dig || slashes >= 3 {
		return false
	}
	return shannon(t) > entropyBits && !isPlaceholder(t)
}
