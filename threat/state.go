package threat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// maxStateSize bounds the state file read into memory. At ~80 bytes a
// record this is over 100,000 records per window.
const maxStateSize = 16 << 20

// state is the tracker's whole state and the JSON state file:
//
//	{"version":1,
//	 "records":[{"timestamp":1700000000,"score":0.9,"agent_id":"a"}],
//	 "agents":{"a":{"escalation":"Tier3Suspend","since":1700000000,"score":3.2}}}
//
// Records use the original's OffenderRecord field names.
type state struct {
	Version int              `json:"version"`
	Records []Record         `json:"records"`
	Agents  map[string]Block `json:"agents"`
}

func newState() state {
	return state{Version: stateVersion, Records: []Record{}, Agents: map[string]Block{}}
}

// score sums the agent's records in the window, in record order, as the
// original's agent_score does.
func (st *state) score(agentID string, now int64, cfg TrackerConfig) float64 {
	window := int64(cfg.Window / time.Second)
	cutoff := now - window
	half := float64(window) / 2
	sum := 0.0
	for _, r := range st.Records {
		if r.AgentID != agentID || r.Timestamp < cutoff {
			continue
		}
		age := max(float64(now-r.Timestamp), 0)
		sum += r.Score * math.Pow(cfg.Decay, age/half)
	}
	return sum
}

// prune drops records stamped before cutoff.
func (st *state) prune(cutoff int64) {
	st.Records = slices.DeleteFunc(st.Records, func(r Record) bool { return r.Timestamp < cutoff })
}

// decodeState parses and validates a state file.
func decodeState(b []byte) (state, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var st state
	if err := dec.Decode(&st); err != nil {
		return state{}, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return state{}, fmt.Errorf("data after the state object: %w", ErrCorrupt)
	}
	if st.Version != stateVersion {
		return state{}, fmt.Errorf("version %d, want %d: %w", st.Version, stateVersion, ErrCorrupt)
	}
	if st.Records == nil || st.Agents == nil {
		return state{}, fmt.Errorf("missing records or agents: %w", ErrCorrupt)
	}
	for i, r := range st.Records {
		if r.AgentID == "" || !validScore(r.Score) {
			return state{}, fmt.Errorf("record %d: empty agent id or score %v not in [0, 1]: %w", i, r.Score, ErrCorrupt)
		}
	}
	for id, b := range st.Agents {
		if id == "" || b.Escalation < Tier3Suspend || b.Escalation > Tier4Revoke || !(b.Score >= 0) || math.IsInf(b.Score, 0) {
			return state{}, fmt.Errorf("agent %q: invalid block %+v: %w", id, b, ErrCorrupt)
		}
	}
	return st, nil
}

// loadState reads the state file; a missing file is an empty state.
func loadState(ctx context.Context, path string) (state, error) {
	if err := ctx.Err(); err != nil {
		return state{}, fmt.Errorf("load offender state: %w", err)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return state{}, fmt.Errorf("load offender state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return state{}, fmt.Errorf("load offender state %s: %w", path, err)
	}
	if len(b) > maxStateSize {
		return state{}, fmt.Errorf("load offender state %s: larger than %d bytes: %w", path, maxStateSize, ErrCorrupt)
	}
	st, err := decodeState(b)
	if err != nil {
		return state{}, fmt.Errorf("load offender state %s (left untouched; move it aside or repair it): %w", path, err)
	}
	return st, nil
}

// saveState writes st to path atomically: a temporary file in the same
// directory, 0600, written and fsynced, renamed over path, and the
// directory fsynced so that the rename survives a crash.
func saveState(ctx context.Context, path string, st state) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save offender state: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save offender state: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save offender state: sync dir: %w", err)
	}
	return nil
}
