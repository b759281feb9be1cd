package threat

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kavach-go/kavach/guard"
)

// clock is a settable clock for the tracker.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func max1() Assessment {
	return Assessment{IntentScore: 1, Classification: Malicious, Escalation: Tier4Revoke}
}

func newTracker(t *testing.T, cfg TrackerConfig) *OffenderTracker {
	t.Helper()
	tr, err := NewOffenderTracker(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTrackerEscalatesAfterThreeMaximal(t *testing.T) {
	ctx := context.Background()
	for _, persisted := range []bool{false, true} {
		name := "memory"
		cfg := TrackerConfig{Now: newClock().Now}
		if persisted {
			name, cfg.Path = "file", filepath.Join(t.TempDir(), "offenders.json")
		}
		t.Run(name, func(t *testing.T) {
			tr := newTracker(t, cfg)
			want := []Escalation{Tier1Log, Tier2Alert, Tier3Suspend, Tier3Suspend, Tier3Suspend, Tier4Revoke}
			for i, w := range want {
				if err := tr.Check("agent"); (err != nil) != (i >= 3) {
					t.Fatalf("before record %d: Check = %v", i+1, err)
				}
				got, err := tr.Record(ctx, "agent", max1())
				if err != nil || got != w {
					t.Fatalf("record %d: %v, %v; want %v", i+1, got, err, w)
				}
				if i == 2 {
					err := tr.Check("agent")
					if !errors.Is(err, ErrSuspended) || errors.Is(err, ErrRevoked) {
						t.Fatalf("after three maximal records: Check = %v, want ErrSuspended", err)
					}
					if !tr.ShouldEscalate("agent") || tr.Score("agent") != 3 {
						t.Fatalf("score %v", tr.Score("agent"))
					}
				}
			}
			if err := tr.Check("agent"); !errors.Is(err, ErrRevoked) {
				t.Fatalf("after six: Check = %v, want ErrRevoked", err)
			}
			if err := tr.Check("other"); err != nil {
				t.Fatalf("another agent is blocked: %v", err)
			}
			if err := tr.Reset(ctx, "agent"); err != nil {
				t.Fatal(err)
			}
			if err := tr.Check("agent"); err != nil || tr.Score("agent") != 0 {
				t.Fatalf("after Reset: %v, score %v", err, tr.Score("agent"))
			}
		})
	}
}

func TestTrackerBlockOutlivesDecay(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	tr := newTracker(t, TrackerConfig{Now: c.Now})
	for range 3 {
		if _, err := tr.Record(ctx, "a", max1()); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(2 * time.Hour)
	if _, err := tr.Record(ctx, "a", Assessment{}); err != nil {
		t.Fatal(err)
	}
	if tr.Score("a") != 0 || tr.Recommend("a") != Tier1Log {
		t.Fatalf("score %v after two hours", tr.Score("a"))
	}
	err := tr.Check("a")
	var be *BlockedError
	if !errors.As(err, &be) || be.Escalation != Tier3Suspend || be.Score != 3 || be.Since != 1_700_000_000 {
		t.Fatalf("Check = %#v, want the suspension to stay until Reset", err)
	}
	if want := `threat: agent "a" suspended since 2023-11-14T22:13:20Z (offender score 3.000); it stays suspended until reset`; err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
}

func TestTrackerSpreadRecords(t *testing.T) {
	// Three maximal records a second apart already decay below the
	// threshold (0.5^(2/1800) + 0.5^(1/1800) + 1 ≈ 2.9988); a fourth
	// within ten minutes crosses it.
	ctx := context.Background()
	c := newClock()
	tr := newTracker(t, TrackerConfig{Now: c.Now})
	for i := range 3 {
		if i > 0 {
			c.Advance(time.Second)
		}
		if got, _ := tr.Record(ctx, "a", max1()); got != [3]Escalation{Tier1Log, Tier2Alert, Tier2Alert}[i] {
			t.Fatalf("record %d: %v", i+1, got)
		}
	}
	want := 1 + math.Pow(0.5, 1.0/1800) + math.Pow(0.5, 2.0/1800)
	if got := tr.Score("a"); math.Abs(got-want) > 1e-12 {
		t.Fatalf("score %v, want %v", got, want)
	}
	c.Advance(10 * time.Minute)
	if got, _ := tr.Record(ctx, "a", max1()); got != Tier3Suspend {
		t.Fatalf("fourth record: %v (score %v)", got, tr.Score("a"))
	}
}

// TestTrackerSteadyBlockedCommand checks the figures behind
// guard.SeverityOf's choice of Info for blocked_command: an agent that
// runs a blocklisted command once a minute for an hour.
func TestTrackerSteadyBlockedCommand(t *testing.T) {
	for _, tt := range []struct {
		weight float64
		score  float64
		want   Escalation
	}{{0.15, 4.96, Tier3Suspend}, {0.05, 1.65, Tier2Alert}} {
		c := newClock()
		tr := newTracker(t, TrackerConfig{Now: c.Now})
		var esc Escalation
		for i := 0; i <= 60; i++ {
			if i > 0 {
				c.Advance(time.Minute)
			}
			esc, _ = tr.Record(context.Background(), "a", Assessment{IntentScore: tt.weight})
		}
		if got := tr.Score("a"); math.Abs(got-tt.score) > 0.005 || esc != tt.want {
			t.Errorf("weight %v: score %v (%v), want ≈%v (%v)", tt.weight, got, esc, tt.score, tt.want)
		}
	}
	if Weight(guard.SeverityOf(guard.BlockedCommand)) != 0.05 {
		t.Error("blocked_command no longer weighs 0.05; revisit guard.SeverityOf's comment")
	}
}

func TestTrackerDecay(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	tr := newTracker(t, TrackerConfig{Now: c.Now})
	if _, err := tr.Record(ctx, "a", max1()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after time.Duration
		score float64
	}{
		{0, 1},
		{30 * time.Minute, 0.5},
		{60 * time.Minute, 0.25}, // a record exactly one window old still counts
		{60*time.Minute + time.Second, 0},
	}
	start := c.Now()
	for _, s := range steps {
		c.mu.Lock()
		c.t = start.Add(s.after)
		c.mu.Unlock()
		if got := tr.Score("a"); got != s.score {
			t.Errorf("after %v: score %v, want %v", s.after, got, s.score)
		}
	}
	if tr.Len() != 1 {
		t.Fatalf("records were pruned without a Record or Prune: %d", tr.Len())
	}
	if err := tr.Prune(ctx); err != nil || tr.Len() != 0 {
		t.Fatalf("Prune: %v, %d records left", err, tr.Len())
	}
}

func TestTrackerPrunesOnRecord(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	tr := newTracker(t, TrackerConfig{Now: c.Now, Window: 10 * time.Second})
	for range 5 {
		tr.Record(ctx, "a", Assessment{IntentScore: 0.1})
		c.Advance(4 * time.Second)
	}
	// Records at 0, 4, 8, 12, 16; the last Record ran at 16 and kept ≥ 6.
	if tr.Len() != 3 {
		t.Fatalf("%d records, want 3", tr.Len())
	}
}

func TestTrackerCustomConfig(t *testing.T) {
	c := newClock()
	tr := newTracker(t, TrackerConfig{Now: c.Now, Window: 100 * time.Second, Decay: 0.25, Threshold: 1})
	tr.Record(context.Background(), "a", Assessment{IntentScore: 0.8})
	c.Advance(50 * time.Second)
	if got := tr.Score("a"); got != 0.2 {
		t.Fatalf("score %v, want 0.8 × 0.25", got)
	}
	if tr.Recommend("a") != Tier1Log {
		t.Fatal(tr.Recommend("a"))
	}
}

func TestTrackerInvalid(t *testing.T) {
	for _, cfg := range []TrackerConfig{{Window: time.Millisecond}, {Decay: 1.5}, {Decay: -1}, {Threshold: -3}, {Threshold: math.Inf(1)}, {Decay: math.NaN()}} {
		if _, err := NewOffenderTracker(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v, want ErrInvalidConfig", cfg, err)
		}
	}
	tr := newTracker(t, TrackerConfig{})
	for _, tc := range []struct {
		agent string
		score float64
	}{{"", 0.5}, {"\xff", 0.5}, {strings.Repeat("a", 1025), 0.5}, {"a", -0.1}, {"a", 1.5}, {"a", math.NaN()}} {
		if _, err := tr.Record(context.Background(), tc.agent, Assessment{IntentScore: tc.score}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Record(%q, %v) = %v, want ErrInvalidInput", tc.agent, tc.score, err)
		}
	}
	if err := tr.Reset(context.Background(), ""); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Reset(\"\") = %v", err)
	}
}

func TestTrackerPersistence(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "offenders.json")
	a := newTracker(t, TrackerConfig{Now: c.Now, Path: path})
	for range 3 {
		a.Record(ctx, "bad", max1())
	}
	a.Record(ctx, "good", Assessment{IntentScore: 0.15})
	c.Advance(10 * time.Minute)

	b := newTracker(t, TrackerConfig{Now: c.Now, Path: path})
	for _, id := range []string{"bad", "good"} {
		if a.Score(id) != b.Score(id) {
			t.Errorf("%s: score %v after reload, %v before", id, b.Score(id), a.Score(id))
		}
	}
	if !errors.Is(b.Check("bad"), ErrSuspended) || b.Check("good") != nil {
		t.Errorf("blocks after reload: %v, %v", b.Check("bad"), b.Check("good"))
	}
	if bl := b.Blocked(); len(bl) != 1 || bl["bad"].Escalation != Tier3Suspend || bl["bad"].Score != 3 {
		t.Errorf("Blocked() = %+v", bl)
	}
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", p, err, fi.Mode())
		}
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".offenders.json.*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	// A Reset through b reaches a after a Refresh, and a's next Record
	// keeps it (a re-reads the file under the lock before writing).
	if err := b.Reset(ctx, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(ctx); err != nil || a.Check("bad") != nil {
		t.Fatalf("after Refresh: %v, %v", err, a.Check("bad"))
	}
	a.Record(ctx, "good", Assessment{IntentScore: 0.15})
	c2 := newTracker(t, TrackerConfig{Now: c.Now, Path: path})
	if c2.Check("bad") != nil || c2.Len() != 2 {
		t.Fatalf("final state: %v, %d records", c2.Check("bad"), c2.Len())
	}
}

func TestTrackerCorruptFile(t *testing.T) {
	ctx := context.Background()
	const header = journalHeader + "\n"
	for name, content := range map[string]string{
		"garbage":         "not json\n",
		"no header":       `{"op":"record","timestamp":1,"score":0.5,"agent_id":"a"}` + "\n",
		"bad line":        header + "{\n",
		"score above one": header + `{"op":"record","timestamp":1,"score":2,"agent_id":"a"}` + "\n",
		"unknown field":   header + `{"op":"record","timestamp":1,"score":0.5,"agent_id":"a","x":1}` + "\n",
		"trailing data":   header + `{"op":"reset","agent_id":"a"} {}` + "\n",
		"unknown op":      header + `{"op":"forgive","agent_id":"a"}` + "\n",
		"bad block":       header + `{"op":"block","agent_id":"a","escalation":"Tier1Log","since":1,"score":1}` + "\n",
		"empty agent":     header + `{"op":"reset","agent_id":""}` + "\n",
		"foreign tail":    header + `{"op":"reset","agent_id":"a"}` + "\nhello",
		"foreign file":    "{oops",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "offenders.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := NewOffenderTracker(ctx, TrackerConfig{Path: path}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("NewOffenderTracker = %v, want ErrCorrupt", err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Fatalf("the corrupt file was changed to %q", b)
			}
		})
	}

	// A tracker whose file goes bad under it refuses to write over it and
	// keeps the blocks it knew.
	path := filepath.Join(t.TempDir(), "offenders.json")
	tr := newTracker(t, TrackerConfig{Path: path})
	for range 3 {
		if _, err := tr.Record(ctx, "a", max1()); err != nil {
			t.Fatal(err)
		}
	}
	bad := header + "{oops\n"
	os.WriteFile(path, []byte(bad), 0o600)
	if _, err := tr.Record(ctx, "a", max1()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Record over a corrupt file: %v", err)
	}
	if err := tr.Reset(ctx, "a"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Reset over a corrupt file: %v", err)
	}
	if err := tr.Refresh(ctx); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Refresh of a corrupt file: %v", err)
	}
	if !errors.Is(tr.Check("a"), ErrSuspended) {
		t.Fatalf("the block was lost: %v", tr.Check("a"))
	}
	if b, _ := os.ReadFile(path); string(b) != bad {
		t.Fatalf("the corrupt file was overwritten: %q", b)
	}
}

// TestTrackerTornTail checks that a line cut off by a crash (its Record
// never returned) is ignored on load and cut off by the next writer.
func TestTrackerTornTail(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "offenders.json")
	good := journalHeader + "\n" + fmt.Sprintf(`{"op":"record","timestamp":%d,"score":0.5,"agent_id":"a"}`, c.Now().Unix()) + "\n"
	if err := os.WriteFile(path, []byte(good+`{"op":"record","timest`), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(t, TrackerConfig{Path: path, Now: c.Now})
	if tr.Len() != 1 || tr.Score("a") != 0.5 {
		t.Fatalf("%d records, score %v", tr.Len(), tr.Score("a"))
	}
	if _, err := tr.Record(ctx, "a", Assessment{IntentScore: 0.25}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := good + fmt.Sprintf(`{"op":"record","timestamp":%d,"score":0.25,"agent_id":"a"}`, c.Now().Unix()) + "\n"
	if string(b) != want {
		t.Fatalf("file\n%s\nwant\n%s", b, want)
	}
	if got := newTracker(t, TrackerConfig{Path: path, Now: c.Now}).Score("a"); got != 0.75 {
		t.Fatalf("reloaded score %v", got)
	}
}

func TestTrackerCompaction(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "offenders.json")
	tr := newTracker(t, TrackerConfig{Path: path, Now: c.Now, Window: 10 * time.Second})
	tr.j.minCompact = 8
	for i := range 40 {
		if _, err := tr.Record(ctx, fmt.Sprint("agent", i%3), Assessment{IntentScore: 0.1}); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Count(string(b), "\n") - 1
	if lines > 2*tr.Len() || lines > 22 {
		t.Fatalf("file has %d lines for %d live records: never compacted", lines, tr.Len())
	}
	other := newTracker(t, TrackerConfig{Path: path, Now: c.Now, Window: 10 * time.Second})
	for i := range 3 {
		id := fmt.Sprint("agent", i)
		if other.Score(id) != tr.Score(id) {
			t.Errorf("%s: %v after reload, %v before", id, other.Score(id), tr.Score(id))
		}
	}
	c.Advance(time.Hour)
	if err := tr.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != journalHeader+"\n" {
		t.Fatalf("after Prune the file holds %q", b)
	}
	// other catches up with the replaced file on its next change.
	if _, err := other.Record(ctx, "agent0", Assessment{IntentScore: 0.2}); err != nil {
		t.Fatal(err)
	}
	if other.Len() != 1 {
		t.Fatalf("other holds %d records after catching up", other.Len())
	}
}

func TestTrackerConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "offenders.json")
	// Two trackers on one file stand for two processes.
	trackers := []*OffenderTracker{newTracker(t, TrackerConfig{Now: c.Now, Path: path}), newTracker(t, TrackerConfig{Now: c.Now, Path: path})}
	const goroutines, each = 6, 5
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			tr := trackers[g%2]
			for range each {
				if _, err := tr.Record(ctx, "a", Assessment{IntentScore: 0.01}); err != nil {
					t.Error(err)
				}
				tr.Score("a")
				tr.Check("a")
			}
		})
	}
	wg.Wait()
	final := newTracker(t, TrackerConfig{Now: c.Now, Path: path})
	if final.Len() != goroutines*each {
		t.Fatalf("%d records, want %d: a writer lost another's records", final.Len(), goroutines*each)
	}
}

// BenchmarkTrackerRecord records for 10 agents at one assessment per
// simulated second each, so that a full window holds 36,000 records, the
// steady state of a busy host.
func BenchmarkTrackerRecord(b *testing.B) {
	for _, persisted := range []bool{false, true} {
		name := "memory"
		c := newClock()
		cfg := TrackerConfig{Now: c.Now}
		if persisted {
			name, cfg.Path = "file", filepath.Join(b.TempDir(), "offenders.json")
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			tr, err := NewOffenderTracker(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			agents := []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"}
			// Fill one window without timing it.
			for i := range 36_000 {
				if i%10 == 0 {
					c.Advance(time.Second)
				}
				tr.st.apply(recordEntry(Record{Timestamp: c.Now().Unix(), Score: 0.01, AgentID: agents[i%10]}))
			}
			if persisted {
				if err := tr.j.compact(&tr.st); err != nil {
					b.Fatal(err)
				}
			}
			a := Assessment{IntentScore: 0.01}
			i := 0
			for b.Loop() {
				if i%10 == 0 {
					c.Advance(time.Second)
				}
				if _, err := tr.Record(ctx, agents[i%10], a); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
