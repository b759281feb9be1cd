package scan

import (
	"bytes"
	"slices"
	"strings"
	"sync"
)

// Scanner finds findings in bytes. Implementations are pure and safe for
// concurrent use; the spans they return are offsets into b.
type Scanner interface {
	// Name is "secrets", "code", "data", or "all" for a combined scanner.
	Name() string
	// Scan returns the findings in b ordered by start.
	Scan(b []byte) []Finding
}

// rule is one detection rule triggered by keywords.
//
// match receives the input and a keyword occurrence [ks, ke) and returns the
// span of the finding, or ok == false when the context rules say the keyword
// is no finding.
type rule struct {
	scanner  string
	id       string
	category string
	severity Severity
	message  string
	keywords []string
	match    func(b []byte, ks, ke int) (start, end int, ok bool)
	// follows, when set, reports whether byte c may follow a keyword in a
	// match; match turns down every keyword followed by another byte. The
	// prefilter uses it to index fewer extensions of a three-byte keyword
	// (newLiterals).
	follows func(c byte) bool
	// wordStart says that match turns down a keyword right after a word
	// byte (wordBefore), and assign that it turns down one that no
	// assignment follows (assignsAt). The engine tests them, and follows,
	// once for all the rules of a keyword that say so, before it calls
	// any (gate): most keywords in text ("amount", "password reset") fail
	// there.
	wordStart, assign bool
}

// gate holds what every rule of one keyword asks of its surroundings
// (rule.wordStart, rule.assign, rule.follows); a hit that fails it is no
// finding of any of them.
type gate struct {
	wordStart, assign bool
	follows           *[256]bool // nil: any byte
}

// useGates turns the gates on, and useClassRare the rare bytes found by
// classify; the tests turn them off to compare.
var useGates, useClassRare = true, true

// pass is a detector that does not hang off keywords (entropy, digits).
type pass func(b []byte, emit func(Finding))

// engine runs keyword rules behind one literal prefilter plus the
// entropy detector and the personal-data detectors without keywords
// (classPass) when asked.
type engine struct {
	name          string
	rules         []*rule
	lits          *literals
	byPat         [][]int // keyword index → rule indexes
	gates         []gate  // by keyword index
	entropy, data bool
}

func newEngine(name string, rules []*rule, entropy, data bool) *engine {
	e := &engine{name: name, rules: rules, entropy: entropy, data: data}
	idx := map[string]int{}
	var kws []string
	for ri, r := range rules {
		for _, k := range r.keywords {
			k = string(bytes.ToLower([]byte(k)))
			i, ok := idx[k]
			if !ok {
				i = len(kws)
				idx[k] = i
				kws = append(kws, k)
				e.byPat = append(e.byPat, nil)
			}
			e.byPat[i] = append(e.byPat[i], ri)
		}
	}
	// A keyword may be followed by a byte when one of its rules allows it.
	follows := make([]func(c byte) bool, len(kws))
	for i, ris := range e.byPat {
		var fs []func(c byte) bool
		for _, ri := range ris {
			if rules[ri].follows == nil {
				fs = nil
				break
			}
			fs = append(fs, rules[ri].follows)
		}
		if fs != nil {
			follows[i] = func(c byte) bool {
				return slices.ContainsFunc(fs, func(f func(byte) bool) bool { return f(c) })
			}
		}
	}
	e.lits = newLiterals(kws, follows)
	e.gates = make([]gate, len(kws))
	for i, ris := range e.byPat {
		g := gate{wordStart: true, assign: true}
		for _, ri := range ris {
			g.wordStart = g.wordStart && rules[ri].wordStart
			g.assign = g.assign && rules[ri].assign
		}
		if f := follows[i]; f != nil {
			g.follows = new([256]bool)
			for c := range 256 {
				g.follows[c] = f(byte(c))
			}
		}
		e.gates[i] = g
	}
	return e
}

// Name implements Scanner.
func (e *engine) Name() string { return e.name }

// scanBlock is how much of the input Scan gives the keyword prefilter,
// the rules and classPass in turn: small enough that the three find its
// bytes in the core's cache (L2), where over the whole input each pass
// would read it from memory again.
const scanBlock = 128 << 10

// Scan implements Scanner.
func (e *engine) Scan(b []byte) []Finding {
	var out []Finding
	sc := scratchPool.Get().(*scanScratch)
	defer func() { sc.hits = sc.hits[:0]; scratchPool.Put(sc) }()
	var cs *classScan
	if e.entropy || e.data {
		cs = new(classScan)
		cs.start(b, e.entropy, e.data, func(f Finding) {
			f.Evidence = evidence(b[f.Start:f.End])
			out = append(out, f)
		}, &sc.cw)
		cs.rarePos = sc.rarePos[:0]
		defer func() { sc.rarePos = cs.rarePos[:0] }()
	}
	for lo := 0; lo < len(b) || lo == 0; lo += scanBlock {
		hi := min(len(b), lo+scanBlock)
		// The class pass goes first: its classification finds the rare
		// bytes of the keyword prefilter on the way, which would
		// otherwise take one more pass per byte.
		var rare []int
		rareEnd := 0
		if cs != nil {
			cs.rarePos = cs.rarePos[:0]
			cs.wantRare = useClassRare
			cs.step(b, hi)
			if useClassRare {
				rare, rareEnd = cs.rarePos, 64*cs.word
			}
		}
		hits := e.lits.findRange(b, lo, hi, sc.hits[:0], rare, rareEnd, &sc.find)
		sc.hits = hits
		for _, h := range hits {
			out = e.match(b, h, out)
		}
	}
	if cs != nil {
		cs.finish(b)
	}
	return normalize(b, out)
}

// match appends the findings of the rules of the keyword hit h.
func (e *engine) match(b []byte, h hit, out []Finding) []Finding {
	ke := h.start + len(e.lits.pats[h.pat])
	if g := &e.gates[h.pat]; useGates {
		if g.wordStart && wordBefore(b, h.start) ||
			g.follows != nil && ke < len(b) && !g.follows[b[ke]] ||
			g.assign && !assignsAt(b, ke) {
			return out
		}
	}
	for _, ri := range e.byPat[h.pat] {
		r := e.rules[ri]
		s, end, ok := r.match(b, h.start, ke)
		if !ok || s < 0 || end > len(b) || s >= end {
			continue
		}
		out = append(out, Finding{
			Scanner:  r.scanner,
			RuleID:   r.id,
			Category: r.category,
			Severity: r.severity,
			Message:  r.message,
			Start:    s,
			End:      end,
			Evidence: evidence(b[s:end]),
		})
	}
	return out
}

// scanScratch is the room Scan works in: the keyword hits and the rare
// bytes of a block, which grow with the input and would otherwise be
// reallocated on every call, and the buffers of the prefilter and the
// classification, which would otherwise be cleared on every call (12 KiB,
// more than a small Scan costs otherwise).
type scanScratch struct {
	hits    []hit
	rarePos []int
	find    findScratch
	cw      [classChunk]classWords
}

var scratchPool = sync.Pool{New: func() any { return new(scanScratch) }}

// normalize orders findings by start (longer first, then more severe) and
// drops a finding whose span lies inside one already kept from the same
// scanner, so that one secret gives one finding even when several keywords
// of overlapping rules fired on it. A high-entropy finding is a fallback:
// it is dropped when it overlaps any other secrets finding, as the
// original ran its entropy detector only where no pattern matched.
//
// Findings next to a "[REDACTED:…]" marker are reported like any other:
// suppressing them would let output that forges markers around a secret
// slip it past the gate. RedactAll reaches idempotence another way.
func normalize(b []byte, fs []Finding) []Finding {
	slices.SortStableFunc(fs, func(x, y Finding) int {
		if x.Start != y.Start {
			return x.Start - y.Start
		}
		if x.End != y.End {
			return y.End - x.End
		}
		if x.Severity != y.Severity {
			return int(y.Severity) - int(x.Severity)
		}
		// Ties are ordered too, so that which of two findings of one span
		// is kept does not depend on the order in which they were found.
		if c := strings.Compare(x.Scanner, y.Scanner); c != 0 {
			return c
		}
		return strings.Compare(x.RuleID, y.RuleID)
	})
	var patterns [][2]int // spans of non-fallback secrets findings, by start
	for _, f := range fs {
		if f.Scanner == "secrets" && f.RuleID != "high-entropy" {
			patterns = append(patterns, [2]int{f.Start, f.End})
		}
	}
	out := fs[:0]
	lastEnd := map[string]int{}
	for _, f := range fs {
		if e, ok := lastEnd[f.Scanner]; ok && f.End <= e {
			continue
		}
		if f.RuleID == "high-entropy" && overlapsSorted(f.Start, f.End, patterns) {
			continue
		}
		lastEnd[f.Scanner] = max(lastEnd[f.Scanner], f.End)
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// overlapsSorted reports whether [s, e) overlaps one of spans, which are
// ordered by start.
func overlapsSorted(s, e int, spans [][2]int) bool {
	i, _ := slices.BinarySearchFunc(spans, e, func(x [2]int, t int) int { return x[0] - t })
	// Only spans starting before e can overlap; the secrets findings are
	// few and rarely nested, so looking back is short.
	for j := i - 1; j >= 0; j-- {
		if spans[j][1] > s {
			return true
		}
		if s-spans[j][0] > 1<<16 {
			break
		}
	}
	return false
}

// evidence keeps at most four leading and four trailing bytes of a match,
// and fewer for short matches, so the whole value never appears.
func evidence(m []byte) string {
	n := len(m)
	keep := 4
	if n < 16 {
		keep = n / 4
	}
	head, tail := m[:keep], m[n-keep:]
	var buf bytes.Buffer
	buf.Grow(2*keep + 8)
	writePrintable(&buf, head)
	buf.WriteString("…")
	writePrintable(&buf, tail)
	return buf.String()
}

// writePrintable copies ASCII printable bytes and replaces the rest with
// '?', so evidence never carries control characters or broken UTF-8.
func writePrintable(buf *bytes.Buffer, p []byte) {
	for _, c := range p {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		buf.WriteByte(c)
	}
}

// Secrets returns the secrets scanner: provider tokens, private keys,
// connection strings with credentials, password and key assignments, and
// high-entropy tokens.
func Secrets() Scanner { return secretsEngine() }

// Code returns the code scanner: the original's 26 groups of dangerous
// commands and code, with context rules against the common false positives.
func Code() Scanner { return codeEngine() }

// Data returns the personal-data scanner: Luhn-valid cards, mod-97-valid
// IBANs, US SSNs, emails, phones, IP and MAC addresses, and the
// HIPAA/GDPR/PCI/SOC2 markers.
func Data() Scanner { return dataEngine() }

// All returns one scanner that runs the secrets, code and data rules behind
// a single prefilter pass; its findings are those of the three scanners
// together, each still naming its own scanner. The gate uses it by default.
func All() Scanner { return allEngine() }

// The engines are built on first use, not at package init: building them
// compiles every rule (about 25 ms and 5 MB), which every program that
// links kavach would otherwise pay at start, including each sandbox init.
var (
	secretsEngine = sync.OnceValue(func() *engine { return newEngine("secrets", secretRules(), true, false) })
	codeEngine    = sync.OnceValue(func() *engine { return newEngine("code", codeRules(), false, false) })
	dataEngine    = sync.OnceValue(func() *engine { return newEngine("data", dataRules(), false, true) })
	allEngine     = sync.OnceValue(func() *engine {
		return newEngine("all", slices.Concat(secretRules(), codeRules(), dataRules()), true, true)
	})
)
