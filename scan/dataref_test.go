package scan

import (
	"bytes"
	"encoding/binary"
	"net/netip"
)

// refDataPass is the byte-at-a-time form of dataPass, kept as the
// reference of TestDataPassMatchesReference. It finds the personal data
// that has no keyword: emails from '@', IPv6 and MAC addresses from ':'
// (dash-separated MACs from their first digit), and cards, IBANs, SSNs,
// phones and IPv4 addresses from the start of a run of digits.
func refDataPass(b []byte, emit func(Finding)) {
	emails(b, emit)
	n := len(b)
	for i := 0; i < n; i++ {
		// Eight bytes at a time, skip blocks without a trigger byte.
		for i+8 <= n && !hasTrigger(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= n {
			break
		}
		c := b[i]
		if !dataTrigger[c] {
			continue
		}
		if c == ':' {
			// The whole hex-and-colon token is consumed, reported or not,
			// so that its pieces ("1a:2b:…" of a longer MAC) are not
			// tried again as numbers.
			if e := refColonToken(b, i, emit); e > i {
				i = e - 1
			}
			continue
		}
		// c is a digit (or ':', handled above). A dash-separated MAC may
		// start with hex letters before its first digit ("a0-65-…"); one
		// with no digit in its first two groups is not found.
		if i > 0 && isHex(b[i-1]) && !isDigit(b[i-1]) {
			found := false
			for s := i - 1; s >= max(0, i-2) && isHex(b[s]); s-- {
				if e := mac(b, s); e > 0 {
					emit(dataFinding("mac-address", "pii_network", Low, "MAC address detected", s, e))
					i, found = e-1, true
					break
				}
			}
			if found {
				continue
			}
		}
		end := i + 1
		for end < n && isDigit(b[end]) {
			end++
		}
		if e := numberAt(b, i, emit); e > end {
			end = e
		}
		i = end - 1
	}
}

// refColonToken is colonToken as first written, the reference of
// refDataPass. It looks at the hex-and-colon token around the ':' at i
// and reports it when it is a MAC or an IPv6 address. It returns the end
// of the token, or 0 when the ':' is part of no such token.
func refColonToken(b []byte, i int, emit func(Finding)) int {
	s := i
	for s > 0 && i-s < 45 && (isHex(b[s-1]) || b[s-1] == ':' || b[s-1] == '.') {
		s--
	}
	e := i + 1
	for e < len(b) && e-s < 45 && (isHex(b[e]) || b[e] == ':' || b[e] == '.') {
		e++
	}
	for e > i+1 && b[e-1] == '.' {
		e--
	}
	if (s > 0 && (isWord(b[s-1]) || b[s-1] == ':')) || wordAt(b, e) || e-s < 3 {
		return 0
	}
	skip := e
	if e-s == 17 && mac(b, s) == e {
		emit(dataFinding("mac-address", "pii_network", Low, "MAC address detected", s, e))
		return e
	}
	tok := b[s:e]
	colons := bytes.Count(tok, []byte(":"))
	if !bytes.Contains(tok, []byte("::")) && colons != 7 && !(colons == 6 && bytes.IndexByte(tok, '.') > 0) {
		return skip
	}
	groups := 0
	for _, g := range bytes.Split(tok, []byte(":")) {
		if len(g) > 0 {
			groups++
		}
	}
	hexDigits := 0
	for _, c := range tok {
		if isHex(c) {
			hexDigits++
		}
	}
	// "A::D" in prose parses as an address; real ones carry more digits.
	if groups < 2 && string(tok) != "::1" || hexDigits < 4 && string(tok) != "::1" {
		return skip
	}
	a, err := netip.ParseAddr(string(tok))
	if err != nil || !a.Is6() {
		return skip
	}
	emit(dataFinding("ipv6-address", "pii_network", Low, "IP Address (IPv6) detected", s, e))
	return e
}

// dataTrigger marks the bytes at which refDataPass looks closer.
var dataTrigger = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t[':'] = true
	return t
}()

// hasTrigger reports whether one of the eight bytes in x is a digit or ':'
// (together the range 0x30..0x3a), with the SWAR test hasbetween of "Bit
// Twiddling Hacks"; bytes with the high bit set never count.
func hasTrigger(x uint64) bool {
	const ones, hi, lo7 = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	t := x & lo7
	return (ones*(127+0x3b)-t)&^x&(t+ones*(127-0x2f))&hi != 0
}
