package scan

import (
	"math/bits"
)

// classWords are the byte classes that the data and entropy passes start
// from, for 64 bytes: bit j of a field is set when byte j is in the class.
// The field order is that of classify's assembly.
type classWords struct {
	digit     uint64 // '0'..'9'
	colon     uint64 // ':'
	dashDot   uint64 // '-' or '.'
	upper     uint64 // 'A'..'Z'
	letter    uint64 // 'A'..'Z', 'a'..'z'
	hexLetter uint64 // 'A'..'F', 'a'..'f'
	token     uint64 // [A-Za-z0-9+/=_-], the alphabet of the entropy detector
	rare      uint64 // rareBytes, which anchor the keyword prefilter's short keywords
}

// classChunk is how many 64-byte blocks are classified at once, on the
// stack (4 KiB).
const classChunk = 64

// classifyGeneric is classify one byte at a time; it is the portable
// implementation and the reference of the assembly.
func classifyGeneric(b []byte, out []classWords) {
	for k := range out {
		var w classWords
		for j, c := range b[64*k : 64*k+64] {
			bit := uint64(1) << j
			cl := classes[c]
			if cl&clsDigit != 0 {
				w.digit |= bit
			}
			if c == ':' {
				w.colon |= bit
			}
			if c == '-' || c == '.' {
				w.dashDot |= bit
			}
			if cl&clsUpper != 0 {
				w.upper |= bit
			}
			if cl&(clsUpper|clsLower) != 0 {
				w.letter |= bit
				if cl&clsHex != 0 {
					w.hexLetter |= bit
				}
			}
			if cl&clsToken != 0 {
				w.token |= bit
			}
			if c == '$' || c == '\\' || c == '~' || c == '`' {
				w.rare |= bit
			}
		}
		out[k] = w
	}
}

// classPass runs the entropy detector (when entropy is set) and the
// personal-data detectors without keywords (when data is set) over b,
// from one classification of its bytes. It emits the findings of the
// entropy detector and then those of the data detectors, in the order in
// which the byte-at-a-time passes emit them (naiveEntropy and refDataPass
// in the tests).
//
// Both passes look closely only at few places of clean text: entropy at
// runs of 20 token bytes or more, data at events (a ':' or the first digit
// of a number, see dataEventMask). classify finds both for 64 bytes with a
// few dozen vector instructions, so that the bytes in between, most of
// them, are touched once by both (RATIONALE: "Why is the clean-text path
// fused?").
func classPass(b []byte, entropy, data bool, emit func(Finding)) {
	var cw [classChunk]classWords
	var c classScan
	c.start(b, entropy, data, emit, &cw)
	c.step(b, len(b))
	c.finish(b)
}

// classScan is classPass a range at a time, so that the engine can run it
// right after the keyword prefilter on the same bytes while they are in
// cache: start, then step for ranges in order, then finish.
type classScan struct {
	entropy, data bool
	emit          func(Finding)
	dataOut       []Finding // data findings, emitted after the entropy ones
	lastEnd       int       // entropy: tokens ending at or before lastEnd were looked at
	run           int       // entropy: length of the token run ending at the current block
	next          int       // data: events before next lie inside a match or a run already looked at
	carry         uint64    // data: see dataEventMask
	word          int       // the 64-byte words before word were classified
	// rarePos, when wantRare, collects the positions of rareBytes in the
	// words classified, for the keyword prefilter (findRange).
	wantRare bool
	rarePos  []int
	cw       *[classChunk]classWords // room for the classes of a chunk
}

// start begins a scan of b, with cw as room for the classes.
func (c *classScan) start(b []byte, entropy, data bool, emit func(Finding), cw *[classChunk]classWords) {
	*c = classScan{entropy: entropy, data: data, emit: emit, cw: cw}
	if data {
		emails(b, c.emitData)
	}
}

func (c *classScan) emitData(f Finding) { c.dataOut = append(c.dataOut, f) }

// step classifies the whole 64-byte words of b that end at or before hi
// and were not yet classified, and looks at their events.
func (c *classScan) step(b []byte, hi int) {
	nWords := min(hi, len(b)) / 64
	for c.word < nWords {
		m := min(classChunk, nWords-c.word)
		classify(b[64*c.word:64*(c.word+m)], c.cw[:m])
		for k := range c.cw[:m] {
			w := &c.cw[k]
			i := 64 * (c.word + k)
			if c.wantRare {
				for m := w.rare; m != 0; m &= m - 1 {
					c.rarePos = append(c.rarePos, i+bits.TrailingZeros64(m))
				}
			}
			if c.entropy {
				c.lastEnd, c.run = entropyWord(b, i, w.token, c.lastEnd, c.run, c.emit)
			}
			if c.data {
				var ev uint64
				ev, c.carry = dataEventMask(w, c.carry)
				for ; ev != 0; ev &= ev - 1 {
					j := bits.TrailingZeros64(ev)
					p := i + j
					if p < c.next {
						continue
					}
					if e := noNumberAt(b, p, j, w.digit); e > 0 {
						c.next = e
						continue
					}
					c.next = dataEventsAt(b, p, c.emitData)
				}
			}
		}
		c.word += m
	}
}

// finish looks at the bytes after the last whole word and emits the data
// findings.
func (c *classScan) finish(b []byte) {
	c.step(b, len(b))
	tail := 64 * c.word
	if c.entropy {
		// The tail, and the run that reaches into it, one run at a time.
		for p := max(tail-c.run, c.lastEnd); p < len(b); {
			if classes[b[p]]&clsToken == 0 {
				p++
				continue
			}
			e := p + 1
			for e < len(b) && classes[b[e]]&clsToken != 0 {
				e++
			}
			if e-p >= entropyMinLen && highEntropy(b[p:e]) {
				c.emit(entropyFinding(p, e))
			}
			p = e
		}
	}
	if c.data {
		// The tail one byte at a time, every ':' and the first digit of
		// every run: dataEvent turns down the others as well.
		next := c.next
		for i := max(tail, next); i < len(b); i++ {
			ch := b[i]
			if i >= next && (ch == ':' || isDigit(ch) && !(i > 0 && isDigit(b[i-1]))) {
				next = dataEventsAt(b, i, c.emitData)
			}
		}
		for _, f := range c.dataOut {
			c.emit(f)
		}
	}
}

// noNumberAt returns the end of the run of digits at p, byte j of a block
// whose digits are digit, when no detector can start at p, so that the
// event there needs no closer look; else 0. It answers for the events of
// clean text that numberAt turns down after several unpredictable tests,
// after no letter, '(' or '+': runs of four digits or more (numbers, the
// years of dates) that are no payment card, and runs of one to three
// digits followed by a '.' and a number that no second '.' follows (a
// decimal, "12.5%"), which is no IPv4 address or phone number. The run
// must end inside the block (else 0). What it returns is what
// dataEventsAt returns then.
func noNumberAt(b []byte, p, j int, digit uint64) int {
	l := bits.TrailingZeros64(^(digit >> j))
	if j+l >= 64 {
		return 0
	}
	if p > 0 {
		if prev := b[p-1]; classes[prev]&(clsUpper|clsLower) != 0 || prev == '(' || prev == '+' {
			return 0
		}
	}
	next := b[p+l]
	switch {
	case l >= 13 && l <= 19:
		return 0
	case l >= 4:
		// numberAt's other detectors need runs of at most three digits;
		// a card printed in groups starts with four and a separator.
		if l == 4 && (next == ' ' || next == '-') && digitsAt(b, p+5, 3) {
			return 0
		}
		return p + l
	case next == '.':
		// Only ipv4 and phone (nanp's "415.555.2671") start at digits
		// followed by '.'; both need one to three digits and a second
		// '.' after it.
		q, k := p+l+1, 0
		for k < 4 && q+k < len(b) && isDigit(b[q+k]) {
			k++
		}
		if k == 0 || k > 3 || q+k >= len(b) || b[q+k] != '.' {
			return p + l
		}
	}
	return 0
}

// entropyWord looks for token runs of entropyMinLen bytes or more among
// the 64 bytes at i, whose token bits are w. run is the length of the run
// of token bytes that ends right before i; it returns the new lastEnd and
// the length of the run that ends at i+64.
//
// A bit set in long marks the start of entropyMinLen token bytes in a row
// inside the block; a run that comes in from the blocks before is found
// from run and the token bytes the block starts with. Each run found is
// measured and tested whole, once.
func entropyWord(b []byte, i int, w uint64, lastEnd, run int, emit func(Finding)) (int, int) {
	x2 := w & (w >> 1)
	x4 := x2 & (x2 >> 2)
	x8 := x4 & (x4 >> 4)
	x16 := x8 & (x8 >> 8)
	long := x16 & (x4 >> 16) // entropyMinLen == 20 == 16 + 4
	if w&1 != 0 && run+bits.TrailingZeros64(^w) >= entropyMinLen {
		long |= 1
	}
	for long != 0 {
		p := i + bits.TrailingZeros64(long)
		if p >= lastEnd {
			s := p
			for s > 0 && classes[b[s-1]]&clsToken != 0 {
				s--
			}
			e := p + 1
			for e < len(b) && classes[b[e]]&clsToken != 0 {
				e++
			}
			if highEntropy(b[s:e]) {
				emit(entropyFinding(s, e))
			}
			lastEnd = e
		}
		long &= long - 1
		if lastEnd-i >= 64 {
			break
		}
		if lastEnd > i {
			long &^= 1<<(lastEnd-i) - 1
		}
	}
	if w == ^uint64(0) {
		return lastEnd, run + 64
	}
	return lastEnd, bits.LeadingZeros64(^w)
}

// entropyFinding is the finding of a high-entropy token at [s, e).
func entropyFinding(s, e int) Finding {
	return Finding{Scanner: "secrets", RuleID: "high-entropy", Category: "high_entropy",
		Severity: Low, Message: "high-entropy string detected", Start: s, End: e}
}

// dataEventMask returns the bits of the events of dataPass among the 64
// bytes classified in w, and the carry to pass to the next block, given
// the carry of the block before (initially zero).
//
// An event is a ':' not right after a letter, or the first digit of a run
// not glued to the byte before. A run of digits after a letter, a '-', a
// '.' or a ':' is part of something that is no number (numberAt): the
// middle of a date, a version, a decimal, an identifier. Only two of them
// may still lead to a finding: after two upper-case letters (an IBAN's
// country code), and after a hex letter when a ':', '-' or '.' follows the
// first digit (a MAC such as "a0-65-…"; not known for the last two bytes
// of the block, so assumed). A ':' right after a letter that is no hex
// digit starts no hex-and-colon token (colonToken). The carry holds the
// flags of the block's last byte that the next block's first byte
// depends on.
//
// A ':' is no event either when the run of hex digits and ':' around it
// follows a letter that is no hex digit, as the ':' of "T12:30:00": the
// walk back of colonToken, over hex digits, ':' and '.', ends there at a
// word byte and turns the token down; when the run is longer than the
// walk's 45-byte bound, the walk ends on a hex digit or a ':' inside it,
// which turns the token down too. A '.' ends the run here although the
// walk goes on over it, to a byte that may be no word byte: after a '.'
// the ':' stays an event. The runs that start after such a letter are
// filled from their first byte by one addition, whose carry runs through
// the run's ones.
func dataEventMask(w *classWords, carry uint64) (ev, out uint64) {
	exc := w.upper&(w.upper<<1|carry&1) | w.hexLetter&((w.colon|w.dashDot)>>2|3<<62)
	glue := w.digit | w.dashDot | w.colon | w.letter&^exc
	plain := w.letter &^ w.hexLetter
	hexColon := w.digit | w.hexLetter | w.colon
	seed := hexColon & (plain<<1 | carry>>1&1 | carry>>3&1)
	afterWord := hexColon & ((hexColon + seed) ^ hexColon)
	ev = w.colon&^afterWord | w.digit&^(glue<<1|carry>>2&1)
	return ev, w.upper>>63 | plain>>63<<1 | glue>>63<<2 | afterWord>>63<<3
}
