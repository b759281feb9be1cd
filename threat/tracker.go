package threat

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// The original's OffenderTracker::new() settings.
const (
	DefaultWindow    = time.Hour
	DefaultDecay     = 0.5
	DefaultThreshold = 3.0
)

// TrackerConfig configures an OffenderTracker. Zero fields take the
// original's defaults (a decay of exactly 0 therefore cannot be asked
// for; it would forget every record the second after it was made).
type TrackerConfig struct {
	// Window is how long a record counts. Zero means one hour; otherwise
	// at least one second, counted in whole seconds (timestamps are whole
	// Unix seconds, as in the original).
	Window time.Duration
	// Decay is the weight factor per half window: a record of age a
	// counts score × Decay^(a / (Window/2)). Zero means 0.5; otherwise in
	// (0, 1].
	Decay float64
	// Threshold is the agent score at which the original's
	// should_escalate turns true (Tier3Suspend); half of it gives
	// Tier2Alert and twice it Tier4Revoke. Zero means 3.0.
	Threshold float64
	// Path is the state file, a JSON-lines journal (format in state.go).
	// Empty keeps the state in memory only. The file and its lock file
	// (Path + ".lock") are created 0600; the directory must exist.
	Path string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c TrackerConfig) withDefaults() (TrackerConfig, error) {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Decay == 0 {
		c.Decay = DefaultDecay
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Window < time.Second:
		return c, fmt.Errorf("tracker config: window %v is under one second: %w", c.Window, ErrInvalidConfig)
	case !(c.Decay > 0 && c.Decay <= 1):
		return c, fmt.Errorf("tracker config: decay %v not in (0, 1]: %w", c.Decay, ErrInvalidConfig)
	case !(c.Threshold > 0) || math.IsInf(c.Threshold, 0):
		return c, fmt.Errorf("tracker config: threshold %v is not a positive number: %w", c.Threshold, ErrInvalidConfig)
	}
	return c, nil
}

// Record is the original's OffenderRecord: one assessment of one agent.
type Record struct {
	// Timestamp is in Unix seconds.
	Timestamp int64   `json:"timestamp"`
	Score     float64 `json:"score"`
	AgentID   string  `json:"agent_id"`
}

// Block is the lasting state of an agent the tracker escalated to
// Tier3Suspend or Tier4Revoke. It outlives the records that caused it,
// until Reset.
type Block struct {
	Escalation Escalation `json:"escalation"`
	// Since is when the block was first set or last raised, in Unix
	// seconds.
	Since int64 `json:"since"`
	// Score is the agent score that set it.
	Score float64 `json:"score"`
}

// BlockedError is Check's error for a blocked agent. It matches
// ErrSuspended or ErrRevoked, by its Escalation.
type BlockedError struct {
	AgentID string
	Block
}

func (e *BlockedError) Error() string {
	what := "suspended"
	if e.Escalation == Tier4Revoke {
		what = "revoked"
	}
	return fmt.Sprintf("threat: agent %q %s since %s (offender score %.3f); it stays %s until reset",
		e.AgentID, what, time.Unix(e.Since, 0).UTC().Format(time.RFC3339), e.Score, what)
}

// Is makes errors.Is match ErrSuspended or ErrRevoked.
func (e *BlockedError) Is(target error) bool {
	if e.Escalation == Tier4Revoke {
		return target == ErrRevoked
	}
	return target == ErrSuspended
}

// OffenderTracker remembers the assessments of every agent for one window
// and blocks agents whose decayed score crosses the threshold. It is safe
// for concurrent use. With a Path, every change is appended to the state
// file (see the format in state.go) under an exclusive lock, after
// catching up with what other processes appended, so several processes
// may share one file without losing records; reads (Score, Recommend,
// Check) use the state as of this tracker's last change or Refresh.
type OffenderTracker struct {
	cfg TrackerConfig

	mu sync.Mutex
	// st and j are guarded by mu.
	st state
	j  journal
}

// NewOffenderTracker returns a tracker configured by cfg, loading the
// state file if there is one. A file that cannot be parsed is ErrCorrupt:
// the tracker is not created and the file is left untouched, so that no
// record (and no block) is silently lost.
func NewOffenderTracker(ctx context.Context, cfg TrackerConfig) (*OffenderTracker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &OffenderTracker{cfg: cfg, st: newState(), j: journal{path: cfg.Path, torn: -1, minCompact: compactMinLines}}
	if err := t.Refresh(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *OffenderTracker) now() int64 { return t.cfg.Now().Unix() }

func (t *OffenderTracker) cutoff(now int64) int64 { return now - int64(t.cfg.Window/time.Second) }

// Refresh catches up with the state file (a no-op without a Path) and
// prunes.
func (t *OffenderTracker) Refresh(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg.Path != "" {
		if err := t.j.load(ctx, &t.st); err != nil {
			return err
		}
	}
	t.st.prune(t.cutoff(t.now()))
	return nil
}

// update runs change, which applies entries through emit, and persists
// them. With a Path it holds the file lock, catches up with the file
// first (another process may have appended) and appends the entries. The
// entries apply in this process even if they cannot be saved: a block
// must not be lost to a full disk.
func (t *OffenderTracker) update(ctx context.Context, compact bool, change func(emit func(entry), now int64)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var pending []entry
	emit := func(e entry) {
		t.st.apply(e)
		pending = append(pending, e)
	}
	if t.cfg.Path == "" {
		change(emit, now)
		t.st.prune(t.cutoff(now))
		return nil
	}
	unlock, err := lockFile(ctx, t.cfg.Path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.OpenFile(t.cfg.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open offender state: %w", err)
	}
	defer f.Close()
	if err := t.j.catchUp(&t.st, f); err != nil {
		return err
	}
	change(emit, now)
	t.st.prune(t.cutoff(now))
	return t.j.write(ctx, &t.st, f, pending, compact)
}

// Record stores the assessment of agentID, prunes, and returns the
// agent's recommended escalation afterwards. The original stores every
// assessment; a score of exactly 0 adds nothing to any agent score, so it
// is not stored, which keeps the state to the assessments that matter.
// When the recommendation is Tier3Suspend or Tier4Revoke the agent is
// blocked (see Check) until Reset; later records raise a block, never
// lower it.
func (t *OffenderTracker) Record(ctx context.Context, agentID string, a Assessment) (Escalation, error) {
	if err := validAgentID(agentID); err != nil {
		return 0, fmt.Errorf("record offender: %w", err)
	}
	if !validScore(a.IntentScore) {
		return 0, fmt.Errorf("record offender %q: intent score %v not in [0, 1]: %w", agentID, a.IntentScore, ErrInvalidInput)
	}
	var rec Escalation
	err := t.update(ctx, false, func(emit func(entry), now int64) {
		if a.IntentScore > 0 {
			emit(recordEntry(Record{Timestamp: now, Score: a.IntentScore, AgentID: agentID}))
		}
		score := t.st.score(agentID, now, t.cfg)
		rec = recommend(score, t.cfg.Threshold)
		if b, ok := t.st.Agents[agentID]; rec >= Tier3Suspend && (!ok || rec > b.Escalation) {
			emit(blockEntry(agentID, Block{Escalation: rec, Since: now, Score: score}))
		}
	})
	if err != nil {
		return rec, fmt.Errorf("record offender %q: %w", agentID, err)
	}
	return rec, nil
}

// Score is the original's agent_score: the sum, over the agent's records
// no older than the window, of score × Decay^(age / (Window/2)). A record
// stamped in the future (the clock went back) counts with age 0.
func (t *OffenderTracker) Score(agentID string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st.score(agentID, t.now(), t.cfg)
}

// ShouldEscalate is the original's should_escalate: Score ≥ Threshold.
func (t *OffenderTracker) ShouldEscalate(agentID string) bool {
	return t.Score(agentID) >= t.cfg.Threshold
}

// Recommend is the original's recommend_escalation for the agent's
// current score: ≥ 2×Threshold Tier4Revoke, ≥ Threshold Tier3Suspend,
// ≥ Threshold/2 Tier2Alert, otherwise Tier1Log.
func (t *OffenderTracker) Recommend(agentID string) Escalation {
	return recommend(t.Score(agentID), t.cfg.Threshold)
}

func recommend(score, threshold float64) Escalation {
	switch {
	case score >= 2*threshold:
		return Tier4Revoke
	case score >= threshold:
		return Tier3Suspend
	case score >= 0.5*threshold:
		return Tier2Alert
	}
	return Tier1Log
}

// Check returns nil when agentID may run, and otherwise a *BlockedError
// matching ErrSuspended or ErrRevoked. The sandbox calls it before every
// exec of the agent.
func (t *OffenderTracker) Check(agentID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.st.Agents[agentID]
	if !ok {
		return nil
	}
	return &BlockedError{AgentID: agentID, Block: b}
}

// Blocked returns the blocked agents and their blocks.
func (t *OffenderTracker) Blocked() map[string]Block {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.st.Agents)
}

// Reset lifts the agent's block and forgets its records (otherwise the
// next record would block it again at once).
func (t *OffenderTracker) Reset(ctx context.Context, agentID string) error {
	if err := validAgentID(agentID); err != nil {
		return fmt.Errorf("reset offender: %w", err)
	}
	err := t.update(ctx, false, func(emit func(entry), _ int64) {
		emit(entry{Op: opReset, AgentID: agentID})
	})
	if err != nil {
		return fmt.Errorf("reset offender %q: %w", agentID, err)
	}
	return nil
}

// Prune drops the records older than the window (the original's prune)
// and rewrites the state file to what is left. Record and Refresh also
// prune, and the file is compacted once most of its lines are dead.
// Blocks stay until Reset.
func (t *OffenderTracker) Prune(ctx context.Context) error {
	if err := t.update(ctx, true, func(func(entry), int64) {}); err != nil {
		return fmt.Errorf("prune offenders: %w", err)
	}
	return nil
}

// Len returns the number of records held.
func (t *OffenderTracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st.n
}

func validScore(s float64) bool { return s >= 0 && s <= 1 }

// maxAgentID bounds an agent id, well below a journal line's bound.
const maxAgentID = 1024

// validAgentID accepts a non-empty UTF-8 id of at most maxAgentID bytes.
// Invalid UTF-8 would not survive the JSON journal unchanged, and a block
// saved under another spelling would not block the agent after a restart.
func validAgentID(id string) error {
	if id == "" || len(id) > maxAgentID || !utf8.ValidString(id) {
		return fmt.Errorf("agent id %q: want 1 to %d bytes of UTF-8: %w", id, maxAgentID, ErrInvalidInput)
	}
	return nil
}
