package scan

import (
	"bytes"
	"math"
	"regexp"
)

// reOpts tunes a regexp-backed keyword rule.
type reOpts struct {
	// window bounds how far past the keyword the regexp may read.
	window int
	// back is how many bytes before the keyword the match may start; the
	// regexp is then tried at each such offset, nearest first.
	back int
	// boundBefore rejects a match preceded by [A-Za-z0-9]; boundAfter one
	// followed by [A-Za-z0-9].
	boundBefore, boundAfter bool
	// value selects the submatch holding the secret value (0: the match).
	value int
	// check validates the value; nil accepts it.
	check func(v []byte) bool
	// notCall rejects a value followed by '(' or that names a member
	// ("a.b"): code such as "secret = tls13.NewSecret(x)", not a key.
	notCall bool
	// assign asks for ':' or '=' within 48 bytes after the keyword before
	// the regexp runs: the assignment rules' keywords ("password",
	// "token") are common words, and this test is far cheaper than a
	// failed regexp.
	assign bool
	// assignNext is the exact form of assign for rules shaped
	// keyword[\w-]{0,20}["']?[ \t]*[:=]: the ':' or '=' must come right
	// after the rest of the name, an optional quote and blanks.
	assignNext bool
}

// assignsAt reports whether an assignment operator follows the name that
// starts with the keyword ending at p.
func assignsAt(b []byte, p int) bool {
	for n := 0; p < len(b) && n < 20 && (isWord(b[p]) || b[p] == '-'); n++ {
		p++
	}
	if p < len(b) && (b[p] == '"' || b[p] == '\'') {
		p++
	}
	for p < len(b) && (b[p] == ' ' || b[p] == '\t') {
		p++
	}
	return p < len(b) && (b[p] == ':' || b[p] == '=')
}

// reMatch builds a match function that runs re, which must start with ^,
// on a bounded window at the keyword.
func reMatch(re *regexp.Regexp, o reOpts) func(b []byte, ks, ke int) (int, int, bool) {
	if o.window == 0 {
		o.window = 512
	}
	return func(b []byte, ks, ke int) (int, int, bool) {
		if o.assign && !bytes.ContainsAny(b[ke:min(len(b), ke+48)], ":=") {
			return 0, 0, false
		}
		if o.assignNext && !assignsAt(b, ke) {
			return 0, 0, false
		}
		for d := 0; d <= o.back; d++ {
			s := ks - d
			if s < 0 {
				break
			}
			if o.boundBefore && alnumBefore(b, s) {
				continue
			}
			w := b[s:min(len(b), s+o.window)]
			m := re.FindSubmatchIndex(w)
			if m == nil {
				continue
			}
			e := s + m[1]
			if o.boundAfter && alnumAt(b, e) {
				continue
			}
			if o.check != nil {
				// The value is the first group from o.value on that took
				// part in the match (alternations put it in different groups).
				g := o.value
				for 2*g+1 < len(m) && m[2*g] < 0 {
					g++
				}
				if 2*g+1 < len(m) && !o.check(w[m[2*g]:m[2*g+1]]) {
					continue
				}
				if o.notCall && 2*g+1 < len(m) && isCode(w, m[2*g], m[2*g+1]) {
					continue
				}
			}
			return s, e, true
		}
		return 0, 0, false
	}
}

// isCode reports whether w[s:e] is followed by a call's '(' or is a dotted
// name whose last part is an identifier starting with a letter.
func isCode(w []byte, s, e int) bool {
	if e < len(w) && w[e] == '(' {
		return true
	}
	v := w[s:e]
	dot := bytes.LastIndexByte(v, '.')
	if dot <= 0 || dot == len(v)-1 {
		return false
	}
	last := v[dot+1:]
	if !(last[0] >= 'a' && last[0] <= 'z' || last[0] >= 'A' && last[0] <= 'Z') {
		return false
	}
	for _, c := range last {
		if !isWord(c) {
			return false
		}
	}
	return true
}

// shannon returns the Shannon entropy of b in bits per byte.
func shannon(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	h := 0.0
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// placeholderWords are substrings that mark a value as an example or a
// template rather than a credential (compared in lower case).
var placeholderWords = [][]byte{
	[]byte("example"), []byte("xxxx"), []byte("****"), []byte("...."), []byte("<"), []byte(">"),
	[]byte("${"), []byte("{{"), []byte("}}"), []byte("$("), []byte("your_"), []byte("your-"),
	[]byte("yourkey"), []byte("yourtoken"), []byte("yoursecret"), []byte("yourpassword"),
	[]byte("redacted"), []byte("changeme"), []byte("placeholder"), []byte("dummy"),
	[]byte("sample"), []byte("fake"), []byte("insert"), []byte("replace"), []byte("%s"),
	[]byte("000000"), []byte("123456"),
}

// isPlaceholder reports whether a candidate secret value is an example, a
// template variable or a filler, and so is not a secret.
func isPlaceholder(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	if v[0] == '$' || v[0] == '%' {
		return true
	}
	lv := bytes.ToLower(v)
	for _, w := range placeholderWords {
		if bytes.Contains(lv, w) {
			return true
		}
	}
	return ascendingRun(lv, 8)
}

// ascendingRun reports whether v holds n bytes in a row each one above the
// previous ("abcdefgh", "12345678"), the mark of a typed-in filler.
func ascendingRun(v []byte, n int) bool {
	run := 1
	for i := 1; i < len(v); i++ {
		if v[i] == v[i-1]+1 {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 1
		}
	}
	return false
}

// randomish reports whether a provider token's random part looks random:
// not a placeholder, and using enough distinct bytes.
func randomish(v []byte) bool {
	if isPlaceholder(v) {
		return false
	}
	var seen [256]bool
	distinct := 0
	for _, c := range v {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
	}
	return distinct >= min(10, len(v)/2)
}

// mixed reports whether v holds both a letter and a digit.
func mixed(v []byte) bool {
	var letter, digit bool
	for _, c := range v {
		switch {
		case isDigit(c):
			digit = true
		case isAlnum(c):
			letter = true
		}
	}
	return letter && digit
}

// phrase matches words separated by runs of whitespace, ignoring ASCII
// case, with word boundaries at both ends. The first word is the keyword.
func phrase(words ...string) func(b []byte, ks, ke int) (int, int, bool) {
	return func(b []byte, ks, ke int) (int, int, bool) {
		if wordBefore(b, ks) {
			return 0, 0, false
		}
		p := ke
		for _, w := range words[1:] {
			q := p
			for q < len(b) && (b[q] == ' ' || b[q] == '\t' || b[q] == '\n' || b[q] == '\r') {
				q++
			}
			if q == p || q+len(w) > len(b) || !equalFold(b[q:q+len(w)], []byte(w)) {
				return 0, 0, false
			}
			p = q + len(w)
		}
		if wordAt(b, p) {
			return 0, 0, false
		}
		return ks, p, true
	}
}

// exact matches the keyword itself, with the exact case given (the
// prefilter ignores case), a word boundary before when boundBefore, and
// none of the bytes in notAfter right after it.
func exact(lit string, boundBefore bool, notAfter func(c byte) bool) func(b []byte, ks, ke int) (int, int, bool) {
	return func(b []byte, ks, ke int) (int, int, bool) {
		if lit != "" && string(b[ks:ke]) != lit {
			return 0, 0, false
		}
		if boundBefore && wordBefore(b, ks) {
			return 0, 0, false
		}
		if notAfter != nil && ke < len(b) && notAfter(b[ke]) {
			return 0, 0, false
		}
		return ks, ke, true
	}
}
