package scan

import (
	"bytes"
	"net/netip"
	"sync"
)

// marker builds a compliance-marker rule from phrases (words separated by
// any whitespace, ignoring case, on word boundaries).
func marker(id, category string, sev Severity, message string, phrases ...string) []*rule {
	var rs []*rule
	for _, p := range phrases {
		words := bytes.Fields([]byte(p))
		ws := make([]string, len(words))
		for i, w := range words {
			ws[i] = string(w)
		}
		// The first word ends at whitespace before the next, or at a
		// byte that is no word byte when it is the only one (phrase).
		follows := func(c byte) bool { return !isWord(c) }
		if len(ws) > 1 {
			follows = func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
		}
		rs = append(rs, &rule{scanner: "data", id: id, category: category, severity: sev, message: message,
			keywords: []string{ws[0]}, match: phrase(ws...), follows: follows, wordStart: true})
	}
	return rs
}

// upperWord matches an upper-case acronym ("PHI", "CVV") as a whole word.
func upperWord(id, category string, sev Severity, message string, words ...string) []*rule {
	var rs []*rule
	for _, w := range words {
		rs = append(rs, &rule{scanner: "data", id: id, category: category, severity: sev, message: message,
			keywords: []string{w}, match: exact(w, true, isWord), follows: func(c byte) bool { return !isWord(c) }, wordStart: true})
	}
	return rs
}

// dataRules are the compliance markers of the original's data scanner.
var dataRules = sync.OnceValue(func() []*rule {
	return concatRules(
		marker("hipaa-identifier", "compliance_hipaa", High, "HIPAA identifier detected",
			"patient id", "patient name", "patient record", "patient dob", "patient ssn", "patient mrn",
			"medical record number", "health insurance claim", "protected health information"),
		upperWord("hipaa-identifier", "compliance_hipaa", High, "HIPAA identifier detected", "PHI"),
		marker("gdpr-personal-data", "compliance_gdpr", Medium, "GDPR personal data detected",
			"data subject", "right to erasure", "right to be forgotten", "consent withdraw", "consent withdrawn",
			"consent withdrawal", "data processing agreement", "data controller", "data processor"),
		marker("pci-cardholder-data", "compliance_pci", High, "PCI-DSS cardholder data detected",
			"cardholder data", "card verification", "primary account number", "PAN data", "track data", "magnetic stripe"),
		upperWord("pci-cardholder-data", "compliance_pci", High, "PCI-DSS cardholder data detected", "CVV", "CVC"),
		marker("soc2-audit-artifact", "compliance_soc2", Medium, "SOC2 audit artifact detected",
			"SOC 2", "SOC2", "trust service criteria", "trust services criteria", "system description",
			"complementary user entity controls", "CUEC"),
	)
})

func concatRules(groups ...[]*rule) []*rule {
	var out []*rule
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// dataFinding fills in the fixed fields of a data finding.
func dataFinding(id, category string, sev Severity, message string, s, e int) Finding {
	return Finding{Scanner: "data", RuleID: id, Category: category, Severity: sev, Message: message, Start: s, End: e}
}

// dataPass finds the personal data that has no keyword: emails from '@',
// IPv6 and MAC addresses from ':' (dash-separated MACs from their first
// digit), and cards, IBANs, SSNs, phones and IPv4 addresses from the start
// of a run of digits. It looks only at the events of dataEventMask; see
// classPass.
func dataPass(b []byte, emit func(Finding)) { classPass(b, false, true, emit) }

// entropyDataPass is entropyPass and dataPass from one classification of
// the bytes, for the combined scanner.
func entropyDataPass(b []byte, emit func(Finding)) { classPass(b, true, true, emit) }

// dataEventsAt handles the event at p and returns where the search for
// the next one resumes. A match that ends in the middle of a run of digits
// (the hex-and-colon token of colonToken is cut at 45 bytes) is followed by
// an event at its end, as the digits there were not looked at.
func dataEventsAt(b []byte, p int, emit func(Finding)) int {
	next := dataEvent(b, p, emit)
	for next < len(b) && isDigit(b[next]) {
		next = dataEvent(b, next, emit)
	}
	return next
}

// dataGlue marks the bytes that glue a run of digits after them to
// something that is no number: letters, digits, '.', '_', ':' and '-'
// (numberAt). dataGlueMaybe marks those of them after which a detector
// may still start before the digits: an upper-case letter (an IBAN's
// country code) and a hex letter (a dash-separated MAC).
var dataGlue, dataGlueMaybe = func() (g, m [256]bool) {
	for c := range 256 {
		g[c] = isAlnum(byte(c)) || c == '.' || c == '_' || c == ':' || c == '-'
		m[c] = isUpper(byte(c)) || isHex(byte(c)) && !isDigit(byte(c))
	}
	return g, m
}()

// dataEvent looks at the event at p and returns where the search for the
// next one resumes: after the match it reported, or after the run of
// digits or the hex-and-colon token it turned down.
func dataEvent(b []byte, p int, emit func(Finding)) int {
	if b[p] == ':' {
		// The whole hex-and-colon token is consumed, reported or not, so
		// that its pieces ("1a:2b:…" of a longer MAC) are not tried again
		// as numbers. When the ':' starts no token, the digits right after
		// it are glued to it and are no number either.
		if e := colonToken(b, p, emit); e > p {
			return e
		}
		return skipDigits(b, p+1)
	}
	if p > 0 && dataGlue[b[p-1]] && !dataGlueMaybe[b[p-1]] {
		return skipDigits(b, p)
	}
	// A dash-separated MAC may start with hex letters before its first
	// digit ("a0-65-…"); one with no digit in its first two groups is not
	// found.
	if p > 0 && isHex(b[p-1]) && !isDigit(b[p-1]) {
		for s := p - 1; s >= max(0, p-2) && isHex(b[s]); s-- {
			if e := mac(b, s); e > 0 {
				emit(dataFinding("mac-address", "pii_network", Low, "MAC address detected", s, e))
				return e
			}
		}
	}
	end := skipDigits(b, p)
	if e := numberAt(b, p, emit); e > end {
		end = e
	}
	return end
}

// skipDigits returns the end of the run of digits at p.
func skipDigits(b []byte, p int) int {
	for p < len(b) && isDigit(b[p]) {
		p++
	}
	return p
}

// numberAt tries the digit-led detectors at the start p of a run of digits
// and returns the end of what it reported, or 0.
func numberAt(b []byte, p int, emit func(Finding)) int {
	if p >= 2 && isUpper(b[p-1]) && isUpper(b[p-2]) && !alnumBefore(b, p-2) {
		if e := iban(b, p-2); e > 0 {
			emit(dataFinding("iban", "pii_financial", High, "IBAN detected", p-2, e))
			return e
		}
	}
	// Digits glued to a word, a dot, a colon or a minus sign are part of
	// something else: an identifier, a version, a time, a negative number.
	if p > 0 && (isAlnum(b[p-1]) || b[p-1] == '.' || b[p-1] == '_' || b[p-1] == ':' || b[p-1] == '-') {
		return 0
	}
	// The length of the run of digits and the byte after it rule out most
	// detectors before they look further.
	run := p
	for run < len(b) && isDigit(b[run]) {
		run++
	}
	l := run - p
	var next byte
	if run < len(b) {
		next = b[run]
	}
	sep := next == '-' || next == ' ' || next == '.'
	if l == 3 && next == '-' {
		if e := ssn(b, p); e > 0 {
			emit(dataFinding("us-ssn", "pii", Critical, "SSN detected", p, e))
			return e
		}
	}
	// A card printed in groups has three digits or more in its second
	// group (card); a date's "2026-06-" has two.
	if l >= 13 && l <= 19 || l == 4 && (next == ' ' || next == '-') && digitsAt(b, p+5, 3) {
		if id, e := card(b, p); e > 0 {
			emit(dataFinding(id, "pii_financial", Critical, cardNames[id]+" detected", p, e))
			return e
		}
	}
	if p > 0 && (b[p-1] == '(' || b[p-1] == '+') || l == 3 && sep || l == 1 && b[p] == '1' && sep {
		if s, e := phone(b, p); e > 0 {
			emit(dataFinding("phone-number", "pii", Medium, "Phone Number detected", s, e))
			return e
		}
	}
	if l <= 3 && next == '.' {
		if e := ipv4(b, p); e > 0 {
			emit(dataFinding("ipv4-address", "pii_network", Low, "IP Address (IPv4) detected", p, e))
			return e
		}
	}
	if l <= 2 && (next == ':' || next == '-' || isHex(next)) {
		if e := mac(b, p); e > 0 {
			emit(dataFinding("mac-address", "pii_network", Low, "MAC address detected", p, e))
			return e
		}
	}
	return 0
}

// endsNumber reports whether a number that ends at e really ends there:
// no letter or digit follows, nor a separator that continues it.
func endsNumber(b []byte, e int) bool {
	if e >= len(b) {
		return true
	}
	if isWord(b[e]) {
		return false
	}
	if (b[e] == '-' || b[e] == '.' || b[e] == ':' || b[e] == '/') && e+1 < len(b) && isAlnum(b[e+1]) {
		return false
	}
	return true
}

// digitsAt reports whether b[p:p+k] are all digits.
func digitsAt(b []byte, p, k int) bool {
	if p+k > len(b) {
		return false
	}
	for _, c := range b[p : p+k] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// ssn matches AAA-GG-SSSS with the SSA's area, group and serial rules.
func ssn(b []byte, p int) int {
	if !digitsAt(b, p, 3) || p+11 > len(b) || b[p+3] != '-' || !digitsAt(b, p+4, 2) || b[p+6] != '-' || !digitsAt(b, p+7, 4) {
		return 0
	}
	if !endsNumber(b, p+11) || !ssnValid(b[p:p+3], b[p+4:p+6], b[p+7:p+11]) {
		return 0
	}
	return p + 11
}

var cardNames = map[string]string{
	"credit-card-visa": "Credit Card (Visa)", "credit-card-mastercard": "Credit Card (Mastercard)",
	"credit-card-amex": "Credit Card (Amex)", "credit-card-discover": "Credit Card (Discover)",
	"credit-card-jcb": "Credit Card (JCB)", "credit-card-diners": "Credit Card (Diners Club)",
	"credit-card-unionpay": "Credit Card (UnionPay)",
}

// card matches a payment card number of 13 to 19 digits, contiguous or in
// groups (the first of four digits, the others of three to six) separated
// by single spaces or dashes, whose issuer prefix and length fit a network
// and whose Luhn check holds. When the groups run on (two cards in a row),
// the longest run of whole groups that is a card wins.
func card(b []byte, p int) (string, int) {
	var digits [19]byte
	nd := 0
	var sep byte
	group := 0
	e := p
	type cut struct{ nd, end int }
	var cuts [8]cut // digit count and end at each group boundary
	ncut := 0
	for e < len(b) {
		c := b[e]
		if isDigit(c) {
			if nd == len(digits) {
				break
			}
			digits[nd] = c
			nd++
			group++
			e++
			continue
		}
		if (c == ' ' || c == '-') && e+1 < len(b) && isDigit(b[e+1]) && (sep == 0 || sep == c) {
			if sep == 0 && group != 4 || group < 3 || group > 6 || ncut == len(cuts) {
				break
			}
			cuts[ncut] = cut{nd, e}
			ncut++
			sep = c
			group = 0
			e++
			continue
		}
		break
	}
	if (sep == 0 || group >= 3 && group <= 6) && endsNumber(b, e) {
		if id := cardID(digits[:nd]); id != "" {
			return id, e
		}
	}
	if sep == 0 {
		return "", 0
	}
	for i := ncut - 1; i >= 0; i-- {
		if id := cardID(digits[:cuts[i].nd]); id != "" {
			return id, cuts[i].end
		}
	}
	return "", 0
}

// cardID names the network of a Luhn-valid number of 13 to 19 digits.
func cardID(d []byte) string {
	if len(d) < 13 || !luhn(d) {
		return ""
	}
	return cardNetwork(d)
}

// cardNetwork names the network whose prefixes and lengths fit d, or "".
// Only the lengths cards are printed with are accepted (Visa 13 and 16, not
// the rare 19, and 16 for the others but Amex 15 and Diners 14): a run of
// 17 to 19 digits is far more often an integer of a table (one in ten is
// Luhn-valid) than a card.
func cardNetwork(d []byte) string {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p3 := p2*10 + int(d[2]-'0')
	p4 := p3*10 + int(d[3]-'0')
	switch {
	case d[0] == '4' && (n == 13 || n == 16):
		return "credit-card-visa"
	case (p2 >= 51 && p2 <= 55 || p4 >= 2221 && p4 <= 2720) && n == 16:
		return "credit-card-mastercard"
	case (p2 == 34 || p2 == 37) && n == 15:
		return "credit-card-amex"
	case (p4 == 6011 || p2 == 65 || p3 >= 644 && p3 <= 649) && n == 16:
		return "credit-card-discover"
	case p4 >= 3528 && p4 <= 3589 && n == 16:
		return "credit-card-jcb"
	case (p3 >= 300 && p3 <= 305 || p2 == 36 || p2 == 38 || p2 == 39) && n == 14:
		return "credit-card-diners"
	case p2 == 62 && n == 16:
		return "credit-card-unionpay"
	}
	return ""
}

// phone matches a North American number ((415) 555-2671, 415-555-2671,
// 415.555.2671, 415 555 2671, +1 415 555 2671, 1-415-555-2671) with valid
// area and exchange codes, or an international number after '+' with 8 to
// 15 digits, contiguous or in groups. p is the first digit; the match may
// start before it, at '(' or '+'.
func phone(b []byte, p int) (int, int) {
	s := p
	if p > 0 && b[p-1] == '+' {
		s = p - 1
		if wordBefore(b, s) {
			return 0, 0
		}
		e, nd, groups := p, 0, 1
		groupEnd, groupND := 0, 0 // the last group boundary and the digits before it
		for e < len(b) {
			if isDigit(b[e]) {
				if nd == 15 {
					if groupEnd == 0 {
						return 0, 0
					}
					// A number that runs on is cut at its last group: the
					// rest is something else (a card, an id).
					e, nd = groupEnd, groupND
					break
				}
				nd++
				e++
			} else if (b[e] == ' ' || b[e] == '-' || b[e] == '.') && e+1 < len(b) && isDigit(b[e+1]) && isDigit(b[e-1]) {
				groupEnd, groupND = e, nd
				groups++
				e++
			} else {
				break
			}
		}
		if b[p] == '0' || nd < 8 || nd > 15 || !endsNumber(b, e) {
			return 0, 0
		}
		if b[p] == '1' && groups > 1 {
			// +1 numbers follow the North American plan below.
			if _, e2 := nanp(b, p+1); e2 > 0 && (b[p+1] == ' ' || b[p+1] == '-' || b[p+1] == '.') {
				return s, e2
			}
			if b[p+1] == ' ' && p+2 < len(b) && b[p+2] == '(' {
				if _, e2 := nanp(b, p+2); e2 > 0 {
					return s, e2
				}
			}
			return 0, 0
		}
		return s, e
	}
	if p > 0 && b[p-1] == '(' {
		if p >= 4 && b[p-2] == ' ' && b[p-3] == '1' && b[p-4] == '+' {
			_, e := nanp(b, p-1)
			return p - 4, e
		}
		_, e := nanp(b, p-1)
		return p - 1, e
	}
	if b[p] == '1' && p+1 < len(b) && (b[p+1] == '-' || b[p+1] == ' ' || b[p+1] == '.') {
		if _, e := nanp(b, p+2); e > 0 {
			return p, e
		}
	}
	return nanp(b, p)
}

// nanp matches AAA-EEE-NNNN or (AAA) EEE-NNNN at p with one kind of
// separator, area and exchange codes starting 2-9.
func nanp(b []byte, p int) (int, int) {
	q := p
	var sep byte
	if q < len(b) && b[q] == '(' {
		if !digitsAt(b, q+1, 3) || q+4 >= len(b) || b[q+4] != ')' {
			return 0, 0
		}
		q += 5
		if q < len(b) && (b[q] == ' ' || b[q] == '-' || b[q] == '.') {
			q++
		}
		if !digitsAt(b, q, 3) || q+3 >= len(b) || b[q+3] != '-' && b[q+3] != '.' && b[q+3] != ' ' {
			return 0, 0
		}
	} else {
		if !digitsAt(b, q, 3) || q+3 >= len(b) {
			return 0, 0
		}
		sep = b[q+3]
		if sep != '-' && sep != '.' && sep != ' ' {
			return 0, 0
		}
		q += 4
		if !digitsAt(b, q, 3) || q+3 >= len(b) || b[q+3] != sep {
			return 0, 0
		}
	}
	area := b[p]
	if area == '(' {
		area = b[p+1]
	}
	if area < '2' || b[q] < '2' {
		return 0, 0
	}
	q += 4
	if !digitsAt(b, q, 4) || !endsNumber(b, q+4) {
		return 0, 0
	}
	return p, q + 4
}

// ipv4 matches a dotted quad of decimal octets 0-255 without leading zeros
// that is not part of a longer dotted number (an OID, a version).
func ipv4(b []byte, p int) int {
	q := p
	for k := 0; k < 4; k++ {
		if k > 0 {
			if q >= len(b) || b[q] != '.' {
				return 0
			}
			q++
		}
		s := q
		v := 0
		for q < len(b) && isDigit(b[q]) && q-s < 3 {
			v = v*10 + int(b[q]-'0')
			q++
		}
		if q == s || v > 255 || (q-s > 1 && b[s] == '0') || (q < len(b) && isDigit(b[q])) {
			return 0
		}
	}
	if q+1 < len(b) && (b[q] == ':' || b[q] == '/') && isDigit(b[q+1]) {
		return q // a port or a prefix length follows
	}
	if !endsNumber(b, q) {
		return 0
	}
	return q
}

// mac matches six pairs of hex digits separated by all ':' or all '-'.
func mac(b []byte, p int) int {
	if p+17 > len(b) {
		return 0
	}
	sep := b[p+2]
	if sep != ':' && sep != '-' {
		return 0
	}
	for k := 0; k < 6; k++ {
		q := p + 3*k
		if !isHex(b[q]) || !isHex(b[q+1]) || (k < 5 && b[q+2] != sep) {
			return 0
		}
	}
	if wordBefore(b, p) || !endsNumber(b, p+17) {
		return 0
	}
	return p + 17
}

// colonToken looks at the hex-and-colon token around the ':' at i and
// reports it when it is a MAC or an IPv6 address. It returns the end of
// the token, or 0 when the ':' is part of no such token.
func colonToken(b []byte, i int, emit func(Finding)) int {
	s := i
	for s > 0 && i-s < 45 && (isHex(b[s-1]) || b[s-1] == ':' || b[s-1] == '.') {
		s--
	}
	// A token glued to a word is none; most ':' in text follow a word
	// ("error:", "main.go:12"), so this is tested before the walk forward.
	if s > 0 && (isWord(b[s-1]) || b[s-1] == ':') {
		return 0
	}
	e := i + 1
	for e < len(b) && e-s < 45 && (isHex(b[e]) || b[e] == ':' || b[e] == '.') {
		e++
	}
	for e > i+1 && b[e-1] == '.' {
		e--
	}
	if wordAt(b, e) || e-s < 3 {
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

// iban matches an IBAN at p, compact ("DE89370400440532013000") or printed
// in groups of four separated by single spaces, whose mod-97 check holds.
func iban(b []byte, p int) int {
	var buf [34]byte
	n := 0
	e := p
	group := 0
	spaced := false
	for e < len(b) && n < len(buf) {
		c := b[e]
		if isDigit(c) || isUpper(c) {
			if n < 2 && !isUpper(c) || n >= 2 && n < 4 && !isDigit(c) {
				return 0
			}
			buf[n] = c
			n++
			group++
			e++
			continue
		}
		if c == ' ' && group == 4 && e+1 < len(b) && (isDigit(b[e+1]) || isUpper(b[e+1])) && (spaced || n == 4) {
			spaced = true
			group = 0
			e++
			continue
		}
		break
	}
	if wordAt(b, e) || !ibanValid(buf[:n]) {
		return 0
	}
	return e
}

// exampleDomains are reserved for documentation (RFC 2606 and 6761); an
// address there is a placeholder, not personal data.
var exampleDomains = []string{"example.com", "example.org", "example.net", ".example", ".test", ".invalid", ".localhost", ".local"}

// emails reports every address local@domain.tld whose top-level label has
// two or more letters, outside the reserved example domains.
func emails(b []byte, emit func(Finding)) {
	for off := 0; off < len(b); {
		i := bytes.IndexByte(b[off:], '@')
		if i < 0 {
			return
		}
		at := off + i
		off = at + 1
		s := at
		for s > 0 && at-s < 64 && emailLocal(b[s-1]) {
			s--
		}
		for s < at && b[s] == '.' {
			s++
		}
		if s == at {
			continue
		}
		e := at + 1
		lastDot := -1
		for e < len(b) && e-at < 254 && (isAlnum(b[e]) || b[e] == '-' || b[e] == '.') {
			if b[e] == '.' {
				if b[e-1] == '.' || b[e-1] == '@' {
					break
				}
				lastDot = e
			}
			e++
		}
		for e > at+1 && (b[e-1] == '.' || b[e-1] == '-') {
			e--
		}
		if lastDot < 0 || lastDot >= e-2 {
			continue
		}
		tld := b[lastDot+1 : e]
		ok := len(tld) >= 2
		for _, c := range tld {
			ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
		}
		if !ok {
			continue
		}
		dom := bytes.ToLower(b[at+1 : e])
		for _, x := range exampleDomains {
			if bytes.HasSuffix(dom, []byte(x)) && (x[0] == '.' || len(dom) == len(x) || dom[len(dom)-len(x)-1] == '.') {
				ok = false
			}
		}
		if ok {
			emit(dataFinding("email-address", "pii", Low, "Email Address detected", s, e))
			off = e
		}
	}
}

func emailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}
