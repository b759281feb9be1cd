package audit

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reproduces, byte for byte, what kavach 1.0 hashes as
// canonical(payload): serde_json (1.0, default features, no preserve_order,
// no float_roundtrip, no arbitrary_precision) parsing a JSON text into a
// serde_json::Value and writing it back with serde_json::to_string.
//
// What is reproduced, and why each rule matters for the HMAC input:
//
//   - Objects become BTreeMaps: keys are sorted by their UTF-8 bytes and a
//     duplicate key keeps its last value.
//   - Output is compact: no whitespace at all.
//   - Strings are written with serde_json's escape table: `"` and `\` are
//     escaped, the control characters U+0000..U+001F are escaped as \b \t \n
//     \f \r or as \u00xx with lower-case hex, and every other character,
//     including '/', '<', '>', '&', U+007F, U+2028 and U+2029, is written raw.
//     Go's encoding/json differs on several of these, so it is not used.
//   - Input strings must be valid UTF-8 without raw control characters; a
//     lone UTF-16 surrogate in a \u escape is an error, as in serde_json.
//   - Numbers follow serde_json's parser: an integer literal that fits u64
//     (positive) or i64 (negative) stays an integer; "-0" and negative
//     literals below i64::MIN become f64; an integer literal longer than u64
//     keeps its first digits and counts the dropped ones as a power of ten.
//     Any literal with a fraction or an exponent becomes f64, computed the
//     way serde_json does without float_roundtrip: the decimal significand
//     (at most 19-20 digits, later digits dropped) converted to f64 and then
//     multiplied or divided once by a power of ten from a table (repeatedly
//     dividing by 1e308 for tiny exponents). That is not always the
//     correctly rounded value, and reproducing the same rounding is what
//     makes the HMAC input equal.
//   - An f64 is written like the ryu crate's shortest representation:
//     "1.0", "0.1", "1e16", "1.5e-7", "-0.0" (see appendF64).
//   - Nesting is limited to serde_json's recursion limit of 128 levels,
//     counted from the audit record object that contains the payload.
//
// Known limit: Go's shortest float digits (strconv) and ryu's are both the
// shortest string that round-trips, picking the closest to the exact value;
// they are expected to agree, and the test vectors check common cases.

// errSyntax reports a JSON text serde_json would reject.
var errSyntax = errors.New("invalid JSON")

// payloadDepth is the recursion budget left for a payload: serde_json starts
// at 128 and the record object around the payload already used one level.
const payloadDepth = 127

// numKind tells which serde_json Number variant a literal becomes.
type numKind uint8

const (
	numU64 numKind = iota
	numI64
	numF64
)

// number is a parsed serde_json Number.
type number struct {
	kind numKind
	u    uint64
	i    int64
	f    float64
}

// pow10 is serde_json's POW10 table: 1e0 through 1e308 as f64. Go rounds each
// constant correctly, as rustc does for the literals in serde_json's table.
// It is built on first use: only a number with a fraction, an exponent or
// more digits than a uint64 holds needs it, and building it (309
// ParseFloat calls) at package init cost every kavach process start,
// most of which never parse such a number.
var pow10 = sync.OnceValue(func() *[309]float64 {
	t := new([309]float64)
	for i := range t {
		// strconv gives the correctly rounded value of the literal "1eN".
		f, err := strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
		if err != nil {
			panic(err)
		}
		t[i] = f
	}
	return t
})

// jsonParser walks a JSON text. It never panics on hostile input.
type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errSyntax, p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// canonicalize parses src as one JSON value (surrounding whitespace allowed)
// and appends serde_json's canonical form to dst.
func canonicalize(dst, src []byte) ([]byte, error) {
	return canonicalizeDepth(dst, src, payloadDepth)
}

// canonicalizeDepth is canonicalize with a given recursion budget; a bare
// top-level value in serde_json gets 128.
func canonicalizeDepth(dst, src []byte, depth int) ([]byte, error) {
	p := jsonParser{b: src}
	p.skipSpace()
	dst, err := p.value(dst, depth)
	if err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return dst, p.errorf("trailing characters")
	}
	return dst, nil
}

// value parses one value and appends its canonical form.
func (p *jsonParser) value(dst []byte, depth int) ([]byte, error) {
	switch c := p.peek(); {
	case c == '{':
		return p.object(dst, depth)
	case c == '[':
		return p.array(dst, depth)
	case c == '"':
		return p.strCanonical(dst)
	case c == 't':
		return p.literal(dst, "true")
	case c == 'f':
		return p.literal(dst, "false")
	case c == 'n':
		return p.literal(dst, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		if err != nil {
			return dst, err
		}
		return appendNumber(dst, n), nil
	case p.i >= len(p.b):
		return dst, p.errorf("unexpected end of input")
	default:
		return dst, p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) literal(dst []byte, word string) ([]byte, error) {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return dst, p.errorf("invalid literal")
	}
	p.i += len(word)
	return append(dst, word...), nil
}

// member is one object entry: its decoded key and its canonical value.
type member struct {
	key   []byte
	value []byte
}

func (p *jsonParser) object(dst []byte, depth int) ([]byte, error) {
	depth--
	if depth <= 0 {
		return dst, p.errorf("recursion limit exceeded")
	}
	start, mark := p.i, len(dst)
	p.i++ // '{'
	p.skipSpace()
	if p.peek() == '}' {
		p.i++
		return append(dst, "{}"...), nil
	}
	// The common case, keys already sorted and unique, is written straight
	// through; anything else is parsed again into a sorted member list.
	dst = append(dst, '{')
	var prevBuf, curBuf [64]byte
	prev := prevBuf[:0]
	for n := 0; ; n++ {
		p.skipSpace()
		if p.peek() != '"' {
			return dst, p.errorf("expected object key")
		}
		key, err := p.str(curBuf[:0])
		if err != nil {
			return dst, err
		}
		if n > 0 && bytes.Compare(prev, key) >= 0 {
			p.i = start
			return p.objectSorted(dst[:mark], depth)
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, key)
		dst = append(dst, ':')
		prev = append(prevBuf[:0], key...)
		p.skipSpace()
		if p.peek() != ':' {
			return dst, p.errorf("expected ':'")
		}
		p.i++
		p.skipSpace()
		dst, err = p.value(dst, depth)
		if err != nil {
			return dst, err
		}
		done, err := p.separator('}')
		if err != nil {
			return dst, err
		}
		if done {
			return append(dst, '}'), nil
		}
	}
}

// objectSorted parses the object at p.i (depth already counted) into a
// member list, sorts it and keeps the last of duplicate keys.
func (p *jsonParser) objectSorted(dst []byte, depth int) ([]byte, error) {
	p.i++ // '{'
	var members []member
	for {
		p.skipSpace()
		if p.peek() != '"' {
			return dst, p.errorf("expected object key")
		}
		key, err := p.str(nil)
		if err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.peek() != ':' {
			return dst, p.errorf("expected ':'")
		}
		p.i++
		p.skipSpace()
		val, err := p.value(nil, depth)
		if err != nil {
			return dst, err
		}
		members = append(members, member{key: key, value: val})
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
		default:
			return dst, p.errorf("expected ',' or '}'")
		}
		break
	}
	// A stable sort keeps duplicates in input order, so the last one of a
	// run is the one a BTreeMap insert would have kept.
	slices.SortStableFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	dst = append(dst, '{')
	first := true
	for i, m := range members {
		if i+1 < len(members) && bytes.Equal(m.key, members[i+1].key) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}'), nil
}

func (p *jsonParser) array(dst []byte, depth int) ([]byte, error) {
	depth--
	if depth <= 0 {
		return dst, p.errorf("recursion limit exceeded")
	}
	p.i++ // '['
	p.skipSpace()
	dst = append(dst, '[')
	if p.peek() == ']' {
		p.i++
		return append(dst, ']'), nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			dst = append(dst, ',')
		}
		p.skipSpace()
		var err error
		dst, err = p.value(dst, depth)
		if err != nil {
			return dst, err
		}
		done, err := p.separator(']')
		if err != nil {
			return dst, err
		}
		if done {
			return append(dst, ']'), nil
		}
	}
}

// separator reads what follows a member of an object or array: ',' (more
// to come) or the closing byte (done).
func (p *jsonParser) separator(closing byte) (done bool, err error) {
	p.skipSpace()
	switch p.peek() {
	case ',':
		p.i++
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.errorf("expected ',' or '%c'", closing)
}

// str parses a JSON string at p.i and appends its decoded UTF-8 bytes to dst.
func (p *jsonParser) str(dst []byte) ([]byte, error) {
	p.i++ // opening quote
	start := p.i
	for {
		if p.i >= len(p.b) {
			return dst, p.errorf("unterminated string")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			dst = append(dst, p.b[start:p.i]...)
			p.i++
			return dst, nil
		case c == '\\':
			dst = append(dst, p.b[start:p.i]...)
			var err error
			dst, err = p.escape(dst)
			if err != nil {
				return dst, err
			}
			start = p.i
		case c < 0x20:
			return dst, p.errorf("control character in string")
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return dst, p.errorf("invalid UTF-8")
			}
			p.i += size
		}
	}
}

// strCanonical parses a JSON string at p.i and appends its canonical form.
// A string without a backslash is already canonical (a valid JSON string
// cannot hold a raw quote or control character), so it is copied as it is.
func (p *jsonParser) strCanonical(dst []byte) ([]byte, error) {
	start := p.i
	ascii := true
	for j := start + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			if ascii || utf8.Valid(p.b[start+1:j]) {
				p.i = j + 1
				return append(dst, p.b[start:j+1]...), nil
			}
			j = len(p.b) // invalid UTF-8: let str report it
		case c == '\\' || c < 0x20:
			j = len(p.b)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	var buf [64]byte
	s, err := p.str(buf[:0])
	if err != nil {
		return dst, err
	}
	return appendString(dst, s), nil
}

// escape decodes the escape sequence at p.i (a backslash).
func (p *jsonParser) escape(dst []byte) ([]byte, error) {
	if p.i+1 >= len(p.b) {
		return dst, p.errorf("unterminated escape")
	}
	c := p.b[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		return append(dst, c), nil
	case 'b':
		return append(dst, '\b'), nil
	case 'f':
		return append(dst, '\f'), nil
	case 'n':
		return append(dst, '\n'), nil
	case 'r':
		return append(dst, '\r'), nil
	case 't':
		return append(dst, '\t'), nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return dst, err
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00:
			if p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
				return dst, p.errorf("lone leading surrogate in hex escape")
			}
			p.i += 2
			r2, err := p.hex4()
			if err != nil {
				return dst, err
			}
			if r2 < 0xdc00 || r2 > 0xdfff {
				return dst, p.errorf("lone leading surrogate in hex escape")
			}
			r = utf16.DecodeRune(r, r2)
		case utf16.IsSurrogate(r):
			return dst, p.errorf("lone trailing surrogate in hex escape")
		}
		return utf8.AppendRune(dst, r), nil
	default:
		return dst, p.errorf("invalid escape")
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.i+4 > len(p.b) {
		return 0, p.errorf("unterminated \\u escape")
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errorf("invalid \\u escape")
		}
	}
	p.i += 4
	return r, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number parses a number literal the way serde_json's deserializer does.
func (p *jsonParser) number() (number, error) {
	positive := true
	if p.peek() == '-' {
		positive = false
		p.i++
	}
	if p.i >= len(p.b) {
		return number{}, p.errorf("unexpected end of number")
	}
	c := p.b[p.i]
	if c == '0' {
		p.i++
		if isDigit(p.peek()) {
			return number{}, p.errorf("invalid number: leading zero")
		}
		return p.numberRest(positive, 0)
	}
	if !isDigit(c) {
		return number{}, p.errorf("invalid number")
	}
	significand := uint64(c - '0')
	p.i++
	for isDigit(p.peek()) {
		digit := uint64(p.peek() - '0')
		if overflowsU64(significand, digit) {
			f, err := p.longInteger(positive, significand)
			return number{kind: numF64, f: f}, err
		}
		p.i++
		significand = significand*10 + digit
	}
	return p.numberRest(positive, significand)
}

// overflowsU64 is serde_json's overflow! macro for significand*10+digit.
func overflowsU64(a, digit uint64) bool {
	const limit = math.MaxUint64
	return a >= limit/10 && (a > limit/10 || digit > limit%10)
}

func (p *jsonParser) numberRest(positive bool, significand uint64) (number, error) {
	switch p.peek() {
	case '.':
		f, err := p.decimal(positive, significand, 0)
		return number{kind: numF64, f: f}, err
	case 'e', 'E':
		f, err := p.exponent(positive, significand, 0)
		return number{kind: numF64, f: f}, err
	}
	if positive {
		return number{kind: numU64, u: significand}, nil
	}
	neg := -int64(significand) // wrapping, as Rust's wrapping_neg
	if neg >= 0 {
		// serde_json turns "-0" and negative literals below i64::MIN into f64.
		return number{kind: numF64, f: -float64(significand)}, nil
	}
	return number{kind: numI64, i: neg}, nil
}

func (p *jsonParser) longInteger(positive bool, significand uint64) (float64, error) {
	exponent := int32(0)
	for {
		switch c := p.peek(); {
		case isDigit(c):
			p.i++
			exponent++
		case c == '.':
			return p.decimal(positive, significand, exponent)
		case c == 'e' || c == 'E':
			return p.exponent(positive, significand, exponent)
		default:
			return p.fromParts(positive, significand, exponent)
		}
	}
}

func (p *jsonParser) decimal(positive bool, significand uint64, before int32) (float64, error) {
	p.i++ // '.'
	after := int32(0)
	for isDigit(p.peek()) {
		digit := uint64(p.peek() - '0')
		if overflowsU64(significand, digit) {
			// serde_json ignores every further digit of the fraction.
			for isDigit(p.peek()) {
				p.i++
			}
			break
		}
		p.i++
		significand = significand*10 + digit
		after--
	}
	if after == 0 && !isDigit(p.b[p.i-1]) {
		return 0, p.errorf("invalid number: no digit after '.'")
	}
	exp := before + after
	if c := p.peek(); c == 'e' || c == 'E' {
		return p.exponent(positive, significand, exp)
	}
	return p.fromParts(positive, significand, exp)
}

func (p *jsonParser) exponent(positive bool, significand uint64, start int32) (float64, error) {
	p.i++ // 'e'
	positiveExp := true
	switch p.peek() {
	case '+':
		p.i++
	case '-':
		p.i++
		positiveExp = false
	}
	if !isDigit(p.peek()) {
		return 0, p.errorf("invalid number: no digit in exponent")
	}
	exp := int32(p.peek() - '0')
	p.i++
	for isDigit(p.peek()) {
		digit := int32(p.peek() - '0')
		p.i++
		if exp >= math.MaxInt32/10 && (exp > math.MaxInt32/10 || digit > math.MaxInt32%10) {
			for isDigit(p.peek()) {
				p.i++
			}
			if significand != 0 && positiveExp {
				return 0, p.errorf("number out of range")
			}
			if positive {
				return 0, nil
			}
			return math.Copysign(0, -1), nil
		}
		exp = exp*10 + digit
	}
	var final int32
	if positiveExp {
		final = satAdd(start, exp)
	} else {
		final = satSub(start, exp)
	}
	return p.fromParts(positive, significand, final)
}

func satAdd(a, b int32) int32 {
	s := int64(a) + int64(b)
	return int32(max(min(s, math.MaxInt32), math.MinInt32))
}

func satSub(a, b int32) int32 {
	s := int64(a) - int64(b)
	return int32(max(min(s, math.MaxInt32), math.MinInt32))
}

// fromParts is serde_json's f64_from_parts without float_roundtrip.
func (p *jsonParser) fromParts(positive bool, significand uint64, exponent int32) (float64, error) {
	f := float64(significand)
	table := pow10()
	for {
		abs := int64(exponent)
		if abs < 0 {
			abs = -abs
		}
		if exponent == math.MinInt32 {
			abs = math.MaxInt64 // Rust's wrapping_abs as usize is out of the table
		}
		if abs < int64(len(table)) {
			if exponent >= 0 {
				f *= table[abs]
				if math.IsInf(f, 0) {
					return 0, p.errorf("number out of range")
				}
			} else {
				f /= table[abs]
			}
			break
		}
		if f == 0 {
			break
		}
		if exponent >= 0 {
			return 0, p.errorf("number out of range")
		}
		f /= 1e308
		exponent += 308
	}
	if positive {
		return f, nil
	}
	return -f, nil
}

func appendNumber(dst []byte, n number) []byte {
	switch n.kind {
	case numU64:
		return strconv.AppendUint(dst, n.u, 10)
	case numI64:
		return strconv.AppendInt(dst, n.i, 10)
	default:
		return appendF64(dst, n.f)
	}
}

// appendF64 writes f the way serde_json does through ryu::Buffer::format_finite:
// the shortest round-tripping digits, in plain notation when the decimal
// exponent allows (up to 16 integer digits, down to 0.0000ddd), otherwise as
// d.ddde±X with no '+' sign, and always with a fraction or an exponent.
func appendF64(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if math.Signbit(f) {
		dst = append(dst, '-')
		f = -f
	}
	if f == 0 {
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // d[.ddd]e±XX
	e := bytes.IndexByte(s, 'e')
	var digits [24]byte
	nd := 0
	for _, c := range s[:e] {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	exp10, _ := strconv.Atoi(string(s[e+1:]))
	length := nd
	kk := exp10 + 1 // 10^(kk-1) <= f < 10^kk
	k := kk - length
	d := digits[:nd]
	switch {
	case k >= 0 && kk <= 16:
		dst = append(dst, d...)
		for range k {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	case kk > 0 && kk <= 16:
		dst = append(dst, d[:kk]...)
		dst = append(dst, '.')
		return append(dst, d[kk:]...)
	case kk > -5 && kk <= 0:
		dst = append(dst, "0."...)
		for range -kk {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	case length == 1:
		dst = append(dst, d[0], 'e')
		return strconv.AppendInt(dst, int64(kk-1), 10)
	default:
		dst = append(dst, d[0], '.')
		dst = append(dst, d[1:]...)
		dst = append(dst, 'e')
		return strconv.AppendInt(dst, int64(kk-1), 10)
	}
}

const hexDigits = "0123456789abcdef"

// appendString writes s (UTF-8) as a JSON string with serde_json's escapes.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
