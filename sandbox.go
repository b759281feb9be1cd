package kavach

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/composite"
	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/score"
)

// Sandbox is one isolated environment. It is safe for concurrent use:
// several Execs may run at once, and Pause, Stop or Destroy act on all of
// them.
type Sandbox struct {
	id       string
	cfg      Config
	backend  backend.Backend
	created  time.Time
	gateImpl *scan.Gate

	mu           sync.Mutex
	state        State                   // guarded by mu
	sb           backend.Sandbox         // guarded by mu; nil until Start
	enforced     backend.Enforced        // guarded by mu; set by Start
	score        score.Score             // guarded by mu; set by Start
	started      time.Time               // guarded by mu
	stopped      time.Time               // guarded by mu
	running      map[*execution]struct{} // guarded by mu
	plan         *credential.Plan        // guarded by mu; resolved secrets
	proxyEnv     []string                // guarded by mu; set with the egress proxy
	proxyRelease func()                  // guarded by mu; releases injected headers
	pids         *guard.PidsReader       // guarded by mu; the backend's pids cgroup, if any
	destroyed    chan struct{}           // closed by Destroy
	// starting counts Execs inside the backend's Start, transitions the
	// Transitions waiting for them to finish; startsDone (on mu) signals
	// both ways.
	starting    int // guarded by mu
	transitions int // guarded by mu
	startsDone  *sync.Cond
}

// Create validates cfg and prepares a sandbox in the Created state. It
// fails with an error wrapping ErrUnavailable (with the exact reason)
// when the chosen backend cannot run here, or ErrInvalidConfig.
func Create(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	bs := cfg.Backends
	if bs == nil {
		bs = Backends()
	}
	var b backend.Backend
	var err error
	if cfg.AutoBackend {
		b, err = backend.ResolveBest(ctx, bs, cfg.Policy)
	} else {
		b, err = findBackend(bs, cfg.Backend)
		if err == nil {
			err = b.Available(ctx)
		}
	}
	if err == nil && cfg.InnerBackend != nil {
		b, err = composite.New(b, *cfg.InnerBackend)
	}
	if err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	cfg.Backend = b.Kind()
	s := &Sandbox{
		id:        newID(),
		cfg:       cfg,
		backend:   b,
		created:   time.Now(),
		running:   map[*execution]struct{}{},
		destroyed: make(chan struct{}),
	}
	s.startsDone = sync.NewCond(&s.mu)
	var store scan.Store
	if cfg.Quarantine != nil {
		store = labelledStore{cfg.Quarantine, s.id, cfg.AgentID}
	}
	s.gateImpl = scan.NewGate(*cfg.Scan, store)
	s.cfg.Logger = cfg.Logger.With(slog.String("sandbox_id", s.id), slog.String("backend", b.Kind().String()))
	if err := s.audit(ctx, EventCreate, map[string]any{
		"sandbox_id": s.id, "agent_id": cfg.AgentID, "backend": b.Kind().String(), "policy": cfg.Policy,
	}); err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	trackAgent(s)
	return s, nil
}

// labelledStore adds the sandbox and agent ids to what is quarantined.
type labelledStore struct {
	scan.Store
	sandboxID, agentID string
}

func (l labelledStore) Put(ctx context.Context, b []byte, meta map[string]string) (string, error) {
	m := make(map[string]string, len(meta)+2)
	for k, v := range meta {
		m[k] = v
	}
	m["sandbox_id"] = l.sandboxID
	if l.agentID != "" {
		m["agent_id"] = l.agentID
	}
	return l.Store.Put(ctx, b, m)
}

// newID returns a random UUID v4, the original's sandbox id format.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ID returns the sandbox's UUID.
func (s *Sandbox) ID() string { return s.id }

// Backend returns the kind of backend the sandbox runs on.
func (s *Sandbox) Backend() backend.Kind { return s.cfg.Backend }

// Config returns the sandbox's configuration, defaults filled in.
func (s *Sandbox) Config() Config { return s.cfg }

// State returns the current state.
func (s *Sandbox) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Ready waits until the sandbox can take a command at full speed: the
// backend has finished what it prepares ahead for the next one (the
// process backend keeps an init waiting, started in the background after
// Start and after each command). It returns at once for backends that
// prepare nothing; a preparation that failed is not an error (the next
// command then does that work itself). It fails with ErrNotRunning
// unless the sandbox is Running, and with ctx's error if ctx ends first.
func (s *Sandbox) Ready(ctx context.Context) error {
	s.mu.Lock()
	st, sb := s.state, s.sb
	s.mu.Unlock()
	if st != Running {
		return fmt.Errorf("ready: %w: sandbox is %s", ErrNotRunning, st)
	}
	if r, ok := sb.(backend.Readier); ok {
		if err := r.Ready(ctx); err != nil {
			return fmt.Errorf("ready: %w", err)
		}
	}
	return nil
}

// Enforced returns what the backend really applies. Before Start it is
// the backend's plan for the policy.
func (s *Sandbox) Enforced(ctx context.Context) (backend.Enforced, error) {
	s.mu.Lock()
	if s.sb != nil {
		defer s.mu.Unlock()
		return s.enforced, nil
	}
	s.mu.Unlock()
	p := s.cfg.Policy.Clone()
	if proxied(p) {
		p.Network = policy.Network{}
	}
	e, err := s.backend.Plan(ctx, p)
	if err == nil && proxied(s.cfg.Policy) && e.Network == backend.NetworkNone {
		e.Network = backend.NetworkProxy
	}
	return e, err
}

// Score returns the strength score of what the sandbox enforces (after
// Start), or of what it would enforce (before).
func (s *Sandbox) Score(ctx context.Context) (score.Score, error) {
	e, err := s.Enforced(ctx)
	if err != nil {
		return score.Score{}, err
	}
	return e.Score(), nil
}

// Times returns when the sandbox was created, last entered Running, and
// entered Stopped or Destroyed (zero when it has not).
func (s *Sandbox) Times() (created, started, stopped time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created, s.started, s.stopped
}

// Start creates the backend's sandbox and enters Running.
func (s *Sandbox) Start(ctx context.Context) error { return s.Transition(ctx, Running) }

// Pause freezes every process in the sandbox.
func (s *Sandbox) Pause(ctx context.Context) error { return s.Transition(ctx, Paused) }

// Resume thaws a paused sandbox.
func (s *Sandbox) Resume(ctx context.Context) error { return s.Transition(ctx, Running) }

// Stop kills every process; the sandbox can then only be destroyed.
func (s *Sandbox) Stop(ctx context.Context) error { return s.Transition(ctx, Stopped) }

// Destroy kills everything and releases every resource. It is idempotent:
// destroying a destroyed sandbox returns nil.
func (s *Sandbox) Destroy(ctx context.Context) error {
	err := s.Transition(ctx, Destroyed)
	if errors.Is(err, ErrInvalidTransition) && s.State() == Destroyed {
		return nil
	}
	return err
}

// Transition moves the sandbox to state to, acting on the backend:
// entering Running from Created creates it, from Paused thaws it; Paused
// freezes; Stopped kills every process; Destroyed releases everything.
// A transition the state machine forbids returns a *TransitionError and
// changes nothing. If the backend fails, the state is unchanged, except
// for Destroy, which always ends in Destroyed.
func (s *Sandbox) Transition(ctx context.Context, to State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transitions++
	for s.starting > 0 {
		s.startsDone.Wait()
	}
	if s.transitions--; s.transitions == 0 {
		s.startsDone.Broadcast()
	}
	from := s.state
	if !CanTransition(from, to) {
		return &TransitionError{From: from, To: to}
	}
	var err error
	switch {
	case from == Created && to == Running:
		err = s.createLocked(ctx)
	case to == Running: // from Paused
		err = s.sb.Resume(ctx)
	case to == Paused:
		err = s.sb.Pause(ctx)
	case to == Stopped:
		err = s.sb.Stop(ctx)
		s.killAllLocked()
	case to == Destroyed:
		err = s.destroyLocked(ctx)
	}
	if err != nil && to != Destroyed {
		return fmt.Errorf("%s sandbox %s: %w", verb(to), s.id, err)
	}
	s.state = to
	now := time.Now()
	switch to {
	case Running:
		s.started = now
	case Stopped, Destroyed:
		s.stopped = now
	}
	s.cfg.Logger.Debug("transition", slog.String("from", from.String()), slog.String("to", to.String()))
	payload := map[string]any{"sandbox_id": s.id, "agent_id": s.cfg.AgentID, "from": from.String()}
	if from == Created && to == Running {
		payload["enforced"] = s.enforced
		payload["score"] = s.score.Value
	}
	aerr := s.audit(ctx, transitionEvent(from, to), payload)
	if err != nil {
		return errors.Join(fmt.Errorf("destroy sandbox %s: %w", s.id, err), aerr)
	}
	return aerr
}

func transitionEvent(from, to State) string {
	switch to {
	case Running:
		if from == Paused {
			return EventResume
		}
		return EventStart
	case Paused:
		return EventPause
	case Stopped:
		return EventStop
	}
	return EventDestroy
}

func verb(to State) string {
	switch to {
	case Running:
		return "start"
	case Paused:
		return "pause"
	case Stopped:
		return "stop"
	}
	return "destroy"
}

func (s *Sandbox) createLocked(ctx context.Context) error {
	files, err := s.resolveSecrets(ctx)
	if err != nil {
		s.plan.Release()
		s.plan = nil
		return err
	}
	spec := backend.Spec{
		ID:      s.id,
		Policy:  s.cfg.Policy.Clone(),
		Workdir: s.cfg.Workdir,
		Files:   files,
		Logger:  s.cfg.Logger,
	}
	err = s.setupEgress(ctx, &spec)
	var sb backend.Sandbox
	if err == nil {
		sb, err = s.backend.Create(ctx, spec)
	}
	for _, f := range files {
		clear(f.Data)
	}
	if err != nil {
		s.plan.Release()
		s.plan = nil
		if s.proxyRelease != nil {
			s.proxyRelease()
		}
		return err
	}
	s.sb = sb
	if pr, ok := sb.(backend.PidsReporter); ok {
		if dir := pr.PidsCgroup(); dir != "" {
			// Kept open for the fork-bomb guard of every command; a group
			// whose counters cannot be opened has none to judge by.
			s.pids, _ = guard.OpenPids(dir)
		}
	}
	s.enforced = sb.Enforced()
	if s.proxyEnv != nil && s.enforced.Network == backend.NetworkNone {
		s.enforced.Network = backend.NetworkProxy
	}
	s.score = s.enforced.Score()
	return nil
}

func (s *Sandbox) destroyLocked(ctx context.Context) error {
	close(s.destroyed)
	untrackAgent(s)
	s.killAllLocked()
	if s.pids != nil {
		_ = s.pids.Close()
	}
	defer s.plan.Release()
	if s.sb == nil {
		return nil
	}
	err := s.sb.Destroy(ctx)
	if s.proxyRelease != nil {
		// The proxy's listeners closed with the last command; the header
		// values are no longer needed.
		s.proxyRelease()
	}
	return err
}

// killAllLocked kills every running exec; their Exec calls return with
// Termination "killed".
func (s *Sandbox) killAllLocked() {
	for e := range s.running {
		e.kill(TerminationKilled)
	}
}

// env returns the environment for a command.
func (s *Sandbox) env(extra []string) []string {
	return mergeEnv(baseEnv(os.Getenv("TERM")), s.cfg.Env, extra)
}
