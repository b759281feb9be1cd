package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"
	"unicode/utf8"
)

// Record is one entry of the chain, as stored on one line of the log.
type Record struct {
	Serial    uint64 `json:"serial"`
	EventType string `json:"event_type"`
	// Payload is the canonical JSON text of the payload, exactly the bytes
	// that went into the HMAC input.
	Payload   json.RawMessage `json:"payload"`
	Timestamp string          `json:"timestamp"`
	HMAC      string          `json:"hmac"`
	PrevHMAC  string          `json:"prev_hmac"`
}

// GenesisEventType and the genesis payload are what kavach 1.0 writes as the
// first record of a new log.
const (
	GenesisEventType = "genesis"
	genesisPayload   = `{"message":"audit chain initialized"}`
)

// rawRecord is a decoded line whose fields still point into scratch buffers.
type rawRecord struct {
	serial    uint64
	eventType []byte
	payload   []byte
	timestamp []byte
	hmac      []byte
	prevHMAC  []byte
}

// scratch holds the buffers one goroutine reuses to decode and check lines.
type scratch struct {
	eventType, payload, timestamp, hmac, prev, line, input []byte
	sum                                                    []byte
	rawSum                                                 [sha256.Size]byte
	mac                                                    hash.Hash
}

func newScratch(key []byte) *scratch {
	return &scratch{mac: hmac.New(sha256.New, key)}
}

// formatTimestamp writes t in UTC the way chrono's to_rfc3339() does:
// seconds, then 0, 3, 6 or 9 fraction digits (as many as needed in steps of
// three), then "+00:00".
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	b := make([]byte, 0, 35)
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	ns := t.Nanosecond()
	switch {
	case ns == 0:
	case ns%1_000_000 == 0:
		b = appendFrac(b, ns/1_000_000, 3)
	case ns%1_000 == 0:
		b = appendFrac(b, ns/1_000, 6)
	default:
		b = appendFrac(b, ns, 9)
	}
	return string(append(b, "+00:00"...))
}

func appendFrac(b []byte, v, width int) []byte {
	b = append(b, '.')
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendInput appends the HMAC input of kavach 1.0:
// serial:event_type:canonical(payload):timestamp:prev_hmac.
func appendInput[S ~string | ~[]byte](dst []byte, serial uint64, eventType S, payload []byte, timestamp, prev S) []byte {
	dst = strconv.AppendUint(dst, serial, 10)
	dst = append(dst, ':')
	dst = append(dst, eventType...)
	dst = append(dst, ':')
	dst = append(dst, payload...)
	dst = append(dst, ':')
	dst = append(dst, timestamp...)
	dst = append(dst, ':')
	return append(dst, prev...)
}

// appendLine appends one record as kavach 1.0's serde_json::to_string of the
// entry writes it (without the newline).
func appendLine[S ~string | ~[]byte](dst []byte, serial uint64, eventType S, payload []byte, timestamp, mac, prev S) []byte {
	dst = append(dst, `{"serial":`...)
	dst = strconv.AppendUint(dst, serial, 10)
	dst = append(dst, `,"event_type":`...)
	dst = appendString(dst, eventType)
	dst = append(dst, `,"payload":`...)
	dst = append(dst, payload...)
	dst = append(dst, `,"timestamp":`...)
	dst = appendString(dst, timestamp)
	dst = append(dst, `,"hmac":`...)
	dst = appendString(dst, mac)
	dst = append(dst, `,"prev_hmac":`...)
	dst = appendString(dst, prev)
	return append(dst, '}')
}

// errNotCanonical reports a line that parses but is not byte for byte what
// the writer produces for the record it holds.
var errNotCanonical = errors.New("record is not in canonical form (field order, whitespace, escapes or number formatting differ from what the writer produces)")

// decode parses one line (without its newline) as an audit record and
// requires it to be canonical (see decodeSlow). Lines as writers produce
// them take a fast path that checks them in place; anything else takes the
// general path, which also explains what is wrong.
func (s *scratch) decode(line []byte) (rawRecord, error) {
	if r, ok := s.decodeFast(line); ok {
		return r, nil
	}
	return s.decodeSlow(line)
}

// decodeFast accepts exactly the canonical lines whose strings hold no
// escape sequence, reading them in place. It returns false for everything
// else, without judging it.
func (s *scratch) decodeFast(line []byte) (rawRecord, bool) {
	var r rawRecord
	i := 0
	lit := func(l string) bool {
		if !bytes.HasPrefix(line[i:], []byte(l)) {
			return false
		}
		i += len(l)
		return true
	}
	str := func() ([]byte, bool) {
		if i >= len(line) || line[i] != '"' {
			return nil, false
		}
		start := i + 1
		ascii := true
		for j := start; j < len(line); j++ {
			switch c := line[j]; {
			case c == '"':
				v := line[start:j]
				if !ascii && !utf8.Valid(v) {
					return nil, false
				}
				i = j + 1
				return v, true
			case c == '\\' || c < 0x20:
				return nil, false
			case c >= utf8.RuneSelf:
				ascii = false
			}
		}
		return nil, false
	}
	if !lit(`{"serial":`) {
		return r, false
	}
	start := i
	for i < len(line) && isDigit(line[i]) {
		d := uint64(line[i] - '0')
		if overflowsU64(r.serial, d) {
			return r, false
		}
		r.serial = r.serial*10 + d
		i++
	}
	if i == start || (line[start] == '0' && i-start > 1) {
		return r, false
	}
	var ok bool
	if !lit(`,"event_type":`) {
		return r, false
	}
	if r.eventType, ok = str(); !ok || !lit(`,"payload":`) {
		return r, false
	}
	p := jsonParser{b: line, i: i}
	var err error
	if s.payload, err = p.value(s.payload[:0], payloadDepth); err != nil || !bytes.Equal(s.payload, line[i:p.i]) {
		return r, false
	}
	r.payload, i = line[i:p.i], p.i
	if !lit(`,"timestamp":`) {
		return r, false
	}
	if r.timestamp, ok = str(); !ok || !lit(`,"hmac":`) {
		return r, false
	}
	if r.hmac, ok = str(); !ok || !lit(`,"prev_hmac":`) {
		return r, false
	}
	if r.prevHMAC, ok = str(); !ok || !lit(`}`) || i != len(line) {
		return r, false
	}
	return r, true
}

// decodeSlow parses one line (without its newline) as an audit record, the way
// serde's derived Deserialize for kavach 1.0's AuditEntry does (any field
// order, unknown fields ignored, duplicates and missing fields rejected),
// and then requires the line to be exactly the canonical encoding of that
// record. The returned fields alias s's buffers.
func (s *scratch) decodeSlow(line []byte) (rawRecord, error) {
	var r rawRecord
	p := jsonParser{b: line}
	p.skipSpace()
	if p.peek() != '{' {
		return r, p.errorf("record is not a JSON object")
	}
	p.i++
	const (
		fSerial = 1 << iota
		fEventType
		fPayload
		fTimestamp
		fHMAC
		fPrev
		fAll = 1<<iota - 1
	)
	seen := 0
	var keyBuf [32]byte
	p.skipSpace()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.skipSpace()
			if p.peek() != '"' {
				return r, p.errorf("expected field name")
			}
			key, err := p.str(keyBuf[:0])
			if err != nil {
				return r, err
			}
			p.skipSpace()
			if p.peek() != ':' {
				return r, p.errorf("expected ':'")
			}
			p.i++
			p.skipSpace()
			var bit int
			switch string(key) {
			case "serial":
				bit = fSerial
				if !isDigit(p.peek()) && p.peek() != '-' {
					return r, p.errorf("serial is not a number")
				}
				n, err := p.number()
				if err != nil {
					return r, err
				}
				if n.kind != numU64 {
					return r, p.errorf("serial is not an unsigned integer")
				}
				r.serial = n.u
			case "payload":
				bit = fPayload
				s.payload, err = p.value(s.payload[:0], payloadDepth)
				if err != nil {
					return r, err
				}
				r.payload = s.payload
			case "event_type", "timestamp", "hmac", "prev_hmac":
				if p.peek() != '"' {
					return r, p.errorf("field %s is not a string", key)
				}
				switch string(key) {
				case "event_type":
					bit = fEventType
					s.eventType, err = p.str(s.eventType[:0])
					r.eventType = s.eventType
				case "timestamp":
					bit = fTimestamp
					s.timestamp, err = p.str(s.timestamp[:0])
					r.timestamp = s.timestamp
				case "hmac":
					bit = fHMAC
					s.hmac, err = p.str(s.hmac[:0])
					r.hmac = s.hmac
				default:
					bit = fPrev
					s.prev, err = p.str(s.prev[:0])
					r.prevHMAC = s.prev
				}
				if err != nil {
					return r, err
				}
			default:
				// serde ignores unknown fields; the canonical check below
				// still rejects the line.
				if _, err := p.value(s.line[:0], payloadDepth); err != nil {
					return r, err
				}
			}
			if seen&bit != 0 {
				return r, p.errorf("duplicate field %s", key)
			}
			seen |= bit
			p.skipSpace()
			if p.peek() == ',' {
				p.i++
				continue
			}
			if p.peek() == '}' {
				p.i++
				break
			}
			return r, p.errorf("expected ',' or '}'")
		}
	}
	p.skipSpace()
	if p.i != len(line) {
		return r, p.errorf("trailing characters after record")
	}
	if seen != fAll {
		for _, f := range []struct {
			bit  int
			name string
		}{{fSerial, "serial"}, {fEventType, "event_type"}, {fPayload, "payload"}, {fTimestamp, "timestamp"}, {fHMAC, "hmac"}, {fPrev, "prev_hmac"}} {
			if seen&f.bit == 0 {
				return r, fmt.Errorf("%w: missing field %s", errSyntax, f.name)
			}
		}
	}
	s.line = appendLine(s.line[:0], r.serial, r.eventType, r.payload, r.timestamp, r.hmac, r.prevHMAC)
	if !bytes.Equal(s.line, line) {
		return r, errNotCanonical
	}
	return r, nil
}

// sum computes the lower-case hex HMAC of a record's fields into s.sum.
func (s *scratch) sumHex(serial uint64, eventType, payload, timestamp, prev []byte) []byte {
	s.input = appendInput(s.input[:0], serial, eventType, payload, timestamp, prev)
	s.mac.Reset()
	s.mac.Write(s.input)
	s.sum = hex.AppendEncode(s.sum[:0], s.mac.Sum(s.rawSum[:0]))
	return s.sum
}

// hmacMatches compares a recomputed hex HMAC with a stored one in constant
// time (for equal lengths).
func hmacMatches(computed, stored []byte) bool {
	return subtle.ConstantTimeCompare(computed, stored) == 1
}

// validEventType rejects event types that kavach 1.0 could not have stored
// (Rust strings are always valid UTF-8).
func validEventType(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: event type is not valid UTF-8", ErrPayload)
	}
	if s == "" {
		return fmt.Errorf("%w: empty event type", ErrPayload)
	}
	return nil
}
