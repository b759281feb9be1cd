package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/scan"
)

// maxTombstones bounds how many destroyed ids the registry remembers for
// idempotent DELETE; older ones then answer 404.
const maxTombstones = 8192

// maxVerdicts is how many recent verdicts a sandbox's GET shows.
const maxVerdicts = 16

// entry is one served sandbox.
type entry struct {
	id      string
	owner   string // who may see and use it
	client  string // whose quota it counts in (see mcpOwner)
	sb      *kavach.Sandbox
	workdir string
	root    *os.Root // the workdir; every file access goes through it
	uid     int      // owner of uploaded files, -1 to leave them as created
	gid     int
	created time.Time

	mu       sync.Mutex
	lastUsed time.Time     // guarded by mu
	inflight int           // guarded by mu
	execs    int           // guarded by mu
	verdicts []verdictView // guarded by mu; the last maxVerdicts
	gone     bool          // guarded by mu; destroyed or being destroyed
}

// verdictView is one exec's gate outcome, as GET shows it.
type verdictView struct {
	At       time.Time    `json:"at"`
	Verdict  scan.Verdict `json:"verdict"`
	Findings int          `json:"findings"`
	Exit     int          `json:"exit_code"`
}

// begin marks a request using the sandbox; the returned func ends it.
// It fails when the sandbox is being destroyed.
func (e *entry) begin() (func(), bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return nil, false
	}
	e.inflight++
	e.lastUsed = time.Now()
	return func() {
		e.mu.Lock()
		e.inflight--
		e.lastUsed = time.Now()
		last := e.gone && e.inflight == 0
		e.mu.Unlock()
		if last {
			// The sandbox was destroyed while this request ran: an upload
			// may have created files in the workdir while release was
			// removing it. The last request out removes what is left.
			_ = os.RemoveAll(e.workdir)
		}
	}, true
}

func (e *entry) recordVerdict(res *kavach.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.execs++
	e.verdicts = append(e.verdicts, verdictView{At: time.Now().UTC(), Verdict: res.Verdict, Findings: len(res.Findings), Exit: res.ExitCode})
	if len(e.verdicts) > maxVerdicts {
		e.verdicts = slices.Delete(e.verdicts, 0, len(e.verdicts)-maxVerdicts)
	}
}

// registry holds the live sandboxes by id, and the ids of destroyed ones.
type registry struct {
	m *metrics

	mu         sync.Mutex
	live       map[string]*entry // guarded by mu
	perOwner   map[string]int    // guarded by mu; live sandboxes per client
	tombstones map[string]string // guarded by mu; destroyed id → owner
	tombOrder  []string          // guarded by mu; FIFO for eviction
	pending    int               // guarded by mu; creations in progress
}

func newRegistry(m *metrics) *registry {
	return &registry{m: m, live: map[string]*entry{}, perOwner: map[string]int{}, tombstones: map[string]string{}}
}

// reserve takes one of client's quota slots before a sandbox is made, so
// that concurrent creates cannot overshoot the quota. The returned func
// gives the slot back.
func (r *registry) reserve(client string, limit int) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit > 0 && r.perOwner[client] >= limit {
		return nil, fmt.Errorf("%w: %d live sandboxes (limit %d)", ErrQuota, r.perOwner[client], limit)
	}
	r.perOwner[client]++
	r.pending++
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.pending--
			r.dec(client)
		})
	}, nil
}

func (r *registry) dec(owner string) {
	if r.perOwner[owner]--; r.perOwner[owner] <= 0 {
		delete(r.perOwner, owner)
	}
}

// add makes a reserved sandbox live (its slot stays taken until destroy).
func (r *registry) add(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending--
	e.lastUsed = time.Now()
	r.live[e.id] = e
	r.m.created.Add(1)
	r.m.live.Add(1)
}

// lookup returns owner's sandbox id. destroyed reports an id owner's
// sandbox had before it was destroyed.
func (r *registry) lookup(owner, id string) (e *entry, destroyed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.live[id]; e != nil && e.owner == owner {
		return e, false
	}
	if o, ok := r.tombstones[id]; ok && o == owner {
		return nil, true
	}
	return nil, false
}

// list returns owner's live sandboxes, oldest first.
func (r *registry) list(owner string) []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*entry
	for _, e := range r.live {
		if owner == "" || e.owner == owner {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *entry) int { return a.created.Compare(b.created) })
	return out
}

// count returns the number of live sandboxes.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// idle returns the sandboxes with no request in flight and none since
// before cutoff.
func (r *registry) idle(cutoff time.Time) []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*entry
	for _, e := range r.live {
		e.mu.Lock()
		if e.inflight == 0 && e.lastUsed.Before(cutoff) {
			out = append(out, e)
		}
		e.mu.Unlock()
	}
	return out
}

// destroy destroys e's sandbox, removes its workdir and forgets it,
// leaving a tombstone. Destroying twice is harmless.
func (r *registry) destroy(ctx context.Context, e *entry, why string) error {
	e.mu.Lock()
	if e.gone {
		e.mu.Unlock()
		return nil
	}
	e.gone = true
	e.mu.Unlock()
	return r.release(ctx, e, why)
}

// reapIfIdle destroys e only if it is still idle since before cutoff, so
// that a request that began after idle() listed it is not cut short.
func (r *registry) reapIfIdle(ctx context.Context, e *entry, cutoff time.Time) (bool, error) {
	e.mu.Lock()
	if e.gone || e.inflight > 0 || !e.lastUsed.Before(cutoff) {
		e.mu.Unlock()
		return false, nil
	}
	e.gone = true
	e.mu.Unlock()
	return true, r.release(ctx, e, "idle")
}

// release does destroy's work once e is marked gone.
func (r *registry) release(ctx context.Context, e *entry, why string) error {
	err := e.sb.Destroy(ctx)
	_ = e.root.Close()
	if rerr := os.RemoveAll(e.workdir); rerr != nil {
		e.mu.Lock()
		busy := e.inflight > 0
		e.mu.Unlock()
		// With a request still writing into it, the request removes it
		// when it ends (see begin).
		if !busy {
			err = errors.Join(err, fmt.Errorf("remove workdir: %w", rerr))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.live[e.id]; ok {
		delete(r.live, e.id)
		r.dec(e.client)
		r.m.live.Add(-1)
		r.m.destroyed(why)
	}
	r.tombstones[e.id] = e.owner
	r.tombOrder = append(r.tombOrder, e.id)
	if len(r.tombOrder) > maxTombstones {
		delete(r.tombstones, r.tombOrder[0])
		r.tombOrder = r.tombOrder[1:]
	}
	if err != nil {
		return fmt.Errorf("destroy sandbox %s: %w", e.id, err)
	}
	return nil
}

// destroyOwned destroys every sandbox of owner.
func (r *registry) destroyOwned(ctx context.Context, owner, why string) error {
	var errs []error
	for _, e := range r.list(owner) {
		errs = append(errs, r.destroy(ctx, e, why))
	}
	return errors.Join(errs...)
}

// destroyAll destroys every sandbox, in parallel.
func (r *registry) destroyAll(ctx context.Context, why string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, e := range r.list("") {
		wg.Go(func() {
			if err := r.destroy(ctx, e, why); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
