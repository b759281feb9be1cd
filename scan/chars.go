package scan

// Byte classes used by the matchers.
const (
	clsDigit = 1 << iota
	clsUpper
	clsLower
	clsHex
	clsToken // [A-Za-z0-9+/=_-], the alphabet of the entropy detector
	clsWord  // [A-Za-z0-9_]
)

var classes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] |= clsDigit | clsHex | clsToken | clsWord
		case c >= 'A' && c <= 'Z':
			t[c] |= clsUpper | clsToken | clsWord
		case c >= 'a' && c <= 'z':
			t[c] |= clsLower | clsToken | clsWord
		}
		if (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			t[c] |= clsHex
		}
		switch c {
		case '+', '/', '=', '-':
			t[c] |= clsToken
		case '_':
			t[c] |= clsToken | clsWord
		}
	}
	return t
}()

func isDigit(c byte) bool { return classes[c]&clsDigit != 0 }
func isAlnum(c byte) bool { return classes[c]&(clsDigit|clsUpper|clsLower) != 0 }
func isWord(c byte) bool  { return classes[c]&clsWord != 0 }
func isHex(c byte) bool   { return classes[c]&clsHex != 0 }
func isUpper(c byte) bool { return classes[c]&clsUpper != 0 }

// wordBefore reports whether the byte before i is a word byte [A-Za-z0-9_].
func wordBefore(b []byte, i int) bool { return i > 0 && isWord(b[i-1]) }

// wordAt reports whether b[i] exists and is a word byte.
func wordAt(b []byte, i int) bool { return i < len(b) && isWord(b[i]) }

// alnumBefore reports whether the byte before i is [A-Za-z0-9].
func alnumBefore(b []byte, i int) bool { return i > 0 && isAlnum(b[i-1]) }

// alnumAt reports whether b[i] exists and is [A-Za-z0-9].
func alnumAt(b []byte, i int) bool { return i < len(b) && isAlnum(b[i]) }
