package threat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"
)

// The state file is a journal: a header line, then one JSON object per
// line, each an operation applied in order.
//
//	{"kavach_offenders":1}
//	{"op":"record","timestamp":1700000000,"score":0.9,"agent_id":"a"}
//	{"op":"block","agent_id":"a","escalation":"Tier3Suspend","since":1700000000,"score":3.2}
//	{"op":"reset","agent_id":"a"}
//
// A record line carries the original's OffenderRecord fields. Appending
// one line per Record keeps the cost of an exec independent of how many
// records the window holds; the file is rewritten (compacted) to its live
// records and blocks once dead lines outnumber live ones.
const journalHeader = `{"kavach_offenders":1}`

// maxJournalRead bounds what one load reads into memory.
const maxJournalRead = 64 << 20

// Operations of the journal.
const (
	opRecord = "record"
	opBlock  = "block"
	opReset  = "reset"
)

// entry is one journal line.
type entry struct {
	Op         string      `json:"op"`
	Timestamp  int64       `json:"timestamp,omitempty"`
	Score      float64     `json:"score,omitempty"`
	AgentID    string      `json:"agent_id"`
	Escalation *Escalation `json:"escalation,omitempty"`
	Since      int64       `json:"since,omitempty"`
}

func recordEntry(r Record) entry {
	return entry{Op: opRecord, Timestamp: r.Timestamp, Score: r.Score, AgentID: r.AgentID}
}

func blockEntry(id string, b Block) entry {
	esc := b.Escalation
	return entry{Op: opBlock, AgentID: id, Escalation: &esc, Since: b.Since, Score: b.Score}
}

// validate checks what the tracker relies on: a known op, an agent id, a
// score in [0, 1] for a record, a Tier3Suspend or Tier4Revoke block with a
// finite non-negative score.
func (e entry) validate() error {
	if err := validAgentID(e.AgentID); err != nil {
		return err
	}
	switch e.Op {
	case opRecord:
		if !validScore(e.Score) || e.Escalation != nil || e.Since != 0 {
			return fmt.Errorf("bad record (score %v)", e.Score)
		}
	case opBlock:
		if e.Escalation == nil || *e.Escalation < Tier3Suspend || *e.Escalation > Tier4Revoke ||
			!(e.Score >= 0) || math.IsInf(e.Score, 0) || e.Timestamp != 0 {
			return errors.New("bad block")
		}
	case opReset:
		if e.Escalation != nil || e.Score != 0 || e.Since != 0 || e.Timestamp != 0 {
			return errors.New("bad reset")
		}
	default:
		return fmt.Errorf("unknown op %q", e.Op)
	}
	return nil
}

// state is the tracker's state: each agent's records in the order they
// were made, and the blocked agents. Records are kept per agent because
// an agent score only ever sums that agent's records, in their order, so
// Score and Record cost what one agent holds, not what all agents hold.
type state struct {
	Records map[string][]Record
	Agents  map[string]Block
	// n is the number of records; oldest is a lower bound of their
	// timestamps, so prune skips the scan until the cutoff passes it.
	n      int
	oldest int64
}

func newState() state {
	return state{Records: map[string][]Record{}, Agents: map[string]Block{}, oldest: math.MaxInt64}
}

// apply applies one validated entry.
func (st *state) apply(e entry) {
	switch e.Op {
	case opRecord:
		st.Records[e.AgentID] = append(st.Records[e.AgentID], Record{Timestamp: e.Timestamp, Score: e.Score, AgentID: e.AgentID})
		st.n++
		st.oldest = min(st.oldest, e.Timestamp)
	case opBlock:
		st.Agents[e.AgentID] = Block{Escalation: *e.Escalation, Since: e.Since, Score: e.Score}
	case opReset:
		delete(st.Agents, e.AgentID)
		st.n -= len(st.Records[e.AgentID])
		delete(st.Records, e.AgentID)
	}
}

// live is the number of journal lines a compacted file would hold.
func (st *state) live() int { return st.n + len(st.Agents) }

// score sums the agent's records in the window, in record order, as the
// original's agent_score does.
func (st *state) score(agentID string, now int64, cfg TrackerConfig) float64 {
	window := int64(cfg.Window / time.Second)
	cutoff := now - window
	half := float64(window) / 2
	sum := 0.0
	for _, r := range st.Records[agentID] {
		if r.Timestamp < cutoff {
			continue
		}
		age := max(float64(now-r.Timestamp), 0)
		sum += r.Score * math.Pow(cfg.Decay, age/half)
	}
	return sum
}

// prune drops records stamped before cutoff.
func (st *state) prune(cutoff int64) {
	if cutoff <= st.oldest {
		return
	}
	st.oldest = math.MaxInt64
	for id, rs := range st.Records {
		kept := slices.DeleteFunc(rs, func(r Record) bool { return r.Timestamp < cutoff })
		st.n -= len(rs) - len(kept)
		if len(kept) == 0 {
			delete(st.Records, id)
			continue
		}
		st.Records[id] = kept
		for _, r := range kept {
			st.oldest = min(st.oldest, r.Timestamp)
		}
	}
}

// parseJournal parses the complete lines of b, which starts at byte
// offset start of the file (start 0 means b begins with the header). It
// returns the entries and how many bytes they took; a last line without a
// newline is not consumed (torn reports it), because it is either being
// written or was torn by a crash. A complete line that does not parse is
// ErrCorrupt, and then nothing is returned to apply.
func parseJournal(b []byte, start int64) (entries []entry, consumed int64, torn bool, err error) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !tornLine(b, start+consumed) {
				return nil, 0, false, fmt.Errorf("at byte %d: unterminated line that no writer started: %w", start+consumed, ErrCorrupt)
			}
			return entries, consumed, true, nil
		}
		line := b[:i]
		at := start + consumed
		if at == 0 {
			if string(line) != journalHeader {
				return nil, 0, false, fmt.Errorf("line 1 is not the header %s: %w", journalHeader, ErrCorrupt)
			}
		} else {
			e, err := decodeEntry(line)
			if err != nil {
				return nil, 0, false, fmt.Errorf("at byte %d: %v: %w", at, err, ErrCorrupt)
			}
			entries = append(entries, e)
		}
		consumed += int64(i + 1)
		b = b[i+1:]
	}
	return entries, consumed, false, nil
}

// tornLine reports whether an unterminated last line at offset at can be
// the start of a line a writer was appending (and may have been cut off
// by a crash): a prefix of the header at offset 0, otherwise a line that
// begins (or is a beginning of) {"op":" and is no longer than a line can
// be. Anything else is not ours, and cutting it off would lose data.
func tornLine(b []byte, at int64) bool {
	if at == 0 {
		return bytes.HasPrefix([]byte(journalHeader), b)
	}
	const start = `{"op":"`
	return len(b) <= maxLine && (bytes.HasPrefix(b, []byte(start)) || bytes.HasPrefix([]byte(start), b))
}

// maxLine bounds a torn line; agent ids are short.
const maxLine = 64 << 10

func decodeEntry(line []byte) (entry, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var e entry
	if err := dec.Decode(&e); err != nil {
		return entry{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return entry{}, errors.New("data after the entry")
	}
	if err := e.validate(); err != nil {
		return entry{}, err
	}
	return e, nil
}

// encodeLines appends the JSON lines of entries to b.
func encodeLines(b []byte, entries []entry) ([]byte, error) {
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		b = append(append(b, line...), '\n')
	}
	return b, nil
}

// snapshot is the compacted journal of st: the header, the records of
// each agent in agent order, then the blocks in agent order.
func snapshot(st *state) ([]byte, error) {
	entries := make([]entry, 0, st.live())
	for _, id := range slices.Sorted(maps.Keys(st.Records)) {
		for _, r := range st.Records[id] {
			entries = append(entries, recordEntry(r))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(st.Agents)) {
		entries = append(entries, blockEntry(id, st.Agents[id]))
	}
	return encodeLines([]byte(journalHeader+"\n"), entries)
}
