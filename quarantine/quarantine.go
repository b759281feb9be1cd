package quarantine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// Status is an item's place in its life cycle. It marshals as kavach 1.0's
// variant names.
type Status string

// The statuses. Quarantined is where every item starts.
const (
	Quarantined Status = "Quarantined"
	Approved    Status = "Approved"
	Rejected    Status = "Rejected"
	Released    Status = "Released"
)

// transitions lists the allowed changes: kavach 1.0 checked none.
var transitions = map[Status][]Status{
	Quarantined: {Approved, Rejected},
	Approved:    {Released},
}

func allowedFrom(s Status) string {
	next := transitions[s]
	if len(next) == 0 {
		return "none, it is final"
	}
	names := make([]string, len(next))
	for i, n := range next {
		names[i] = string(n)
	}
	return strings.Join(names, ", ")
}

// File names inside an item's directory, as in kavach 1.0.
const (
	artifactFile = "artifact.bin"
	metadataFile = "metadata.json"
	lockFile     = ".lock"
)

// ScanResult is kavach 1.0's scan_result object. Findings are kept as raw
// JSON so that items written by the Rust crate keep theirs unchanged.
type ScanResult struct {
	Verdict       string            `json:"verdict"`
	Findings      []json.RawMessage `json:"findings"`
	WorstSeverity string            `json:"worst_severity"`
}

// Metadata is an item's metadata.json. The first eight fields are kavach
// 1.0's, with its names and its null for an absent option; the rest are
// kavach's additions, which the Rust crate ignores when it reads the file.
type Metadata struct {
	ID            string     `json:"id"`
	SandboxID     *string    `json:"sandbox_id"`
	AgentID       *string    `json:"agent_id"`
	ScanResult    ScanResult `json:"scan_result"`
	Status        Status     `json:"status"`
	QuarantinedAt time.Time  `json:"quarantined_at"`
	ApprovedBy    *string    `json:"approved_by"`
	ApprovedAt    *time.Time `json:"approved_at"`

	RejectedBy *string    `json:"rejected_by,omitempty"`
	RejectedAt *time.Time `json:"rejected_at,omitempty"`
	ReleasedBy *string    `json:"released_by,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	// Size and SHA256 describe artifact.bin; Release checks them. Items
	// written by kavach 1.0 have neither.
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Labels holds the Put metadata that has no field of its own (for the
	// scanner gate: findings, rules, stdout_bytes, stderr_bytes).
	Labels map[string]string `json:"labels,omitempty"`
}

// Store is a quarantine directory. Its methods are safe for concurrent use
// by goroutines and by processes sharing the directory.
type Store struct {
	dir string
	now func() time.Time
}

// Option configures New.
type Option func(*Store) error

// WithClock sets the clock that stamps items (tests use a fixed one).
func WithClock(now func() time.Time) Option {
	return func(s *Store) error {
		if now == nil {
			return errors.New("quarantine: nil clock")
		}
		s.now = now
		return nil
	}
}

// DefaultDir returns $XDG_DATA_HOME/kavach/quarantine, or
// ~/.local/share/kavach/quarantine when XDG_DATA_HOME is unset or not
// absolute (as the XDG base directory specification says).
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "kavach", "quarantine"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("quarantine default dir: %w", err)
	}
	return filepath.Join(home, ".local", "share", "kavach", "quarantine"), nil
}

// New opens the store at dir, creating it with mode 0700 if needed.
func New(dir string, opts ...Option) (*Store, error) {
	s := &Store{dir: dir, now: time.Now}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open quarantine %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open quarantine %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open quarantine %s: not a directory", dir)
	}
	if fi.Mode().Perm()&^0o700 != 0 {
		// Quarantined output may hold secrets: nobody else may list it.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open quarantine %s: %w", dir, err)
		}
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// ParseID validates an id: a UUID in its 36-character hyphenated form, in
// either case. It returns the lower-case form, the name of the item's
// directory. Nothing else (no "..", no "/", no other UUID spelling) is
// accepted, so an id can never name a path outside the store.
func ParseID(id string) (string, error) {
	if len(id) != 36 {
		return "", fmt.Errorf("%w %q: want a UUID like 0b9c6d2e-8f1a-4c3b-9d2e-7a6b5c4d3e2f", ErrInvalidID, id)
	}
	b := []byte(strings.ToLower(id))
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", fmt.Errorf("%w %q: want a UUID like 0b9c6d2e-8f1a-4c3b-9d2e-7a6b5c4d3e2f", ErrInvalidID, id)
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return "", fmt.Errorf("%w %q: want a UUID like 0b9c6d2e-8f1a-4c3b-9d2e-7a6b5c4d3e2f", ErrInvalidID, id)
			}
		}
	}
	return string(b), nil
}

// newID returns a random (version 4) UUID, as kavach 1.0's Uuid::new_v4.
func newID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// lock takes the store's lock file, shared or exclusive, waiting at most as
// long as ctx allows.
func (s *Store) lock(ctx context.Context, exclusive bool) (func(), error) {
	l := flock.New(filepath.Join(s.dir, lockFile), flock.SetPermissions(0o600))
	var ok bool
	var err error
	if exclusive {
		ok, err = l.TryLockContext(ctx, 5*time.Millisecond)
	} else {
		ok, err = l.TryRLockContext(ctx, 5*time.Millisecond)
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("lock quarantine: %w", errors.Join(err, ctx.Err()))
	}
	return func() { _ = l.Unlock() }, nil
}

// Put stores artifact with the given metadata and returns the new item's
// id. It satisfies the scanner gate's Store interface. Recognised keys:
// "sandbox_id" and "agent_id" fill those fields; "verdict" and
// "worst_severity" fill scan_result (written with the original's variant
// names, "Quarantine", "High"); every other key goes to Labels. A missing
// verdict is written as "Quarantine", a missing severity as "Info".
func (s *Store) Put(ctx context.Context, artifact []byte, meta map[string]string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	id, err := newID()
	if err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	sum := sha256.Sum256(artifact)
	m := Metadata{
		ID:            id,
		ScanResult:    ScanResult{Verdict: "Quarantine", Findings: []json.RawMessage{}, WorstSeverity: "Info"},
		Status:        Quarantined,
		QuarantinedAt: s.now().UTC(),
		Size:          int64(len(artifact)),
		SHA256:        hex.EncodeToString(sum[:]),
	}
	for k, v := range meta {
		switch k {
		case "sandbox_id":
			m.SandboxID = &v
		case "agent_id":
			m.AgentID = &v
		case "verdict":
			m.ScanResult.Verdict = pascal(v)
		case "worst_severity":
			m.ScanResult.WorstSeverity = pascal(v)
		default:
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[k] = v
		}
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	defer unlock()
	// The item is built in a hidden directory and renamed into place, so
	// List and Get never see half of it.
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := writeFileSync(filepath.Join(tmp, artifactFile), artifact); err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	if err := writeMetadata(tmp, &m); err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	if err := syncDir(tmp); err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, id)); err != nil {
		return "", fmt.Errorf("quarantine put: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return "", fmt.Errorf("quarantine put %s: %w", id, err)
	}
	return id, nil
}

// pascal turns "quarantine" or "HIGH" into the original's "Quarantine",
// "High".
func pascal(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// List returns every item, oldest first. Entries that are not items (not a
// UUID-named directory) are ignored, as kavach 1.0 does; an item whose
// metadata cannot be read is left out and reported in the error (wrapping
// ErrCorrupt) next to the items that could be read.
func (s *Store) List(ctx context.Context) ([]Metadata, error) {
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("quarantine list: %w", err)
	}
	defer unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("quarantine list: %w", err)
	}
	var items []Metadata
	var errs []error
	for _, e := range entries {
		id, err := ParseID(e.Name())
		if err != nil || id != e.Name() || !e.IsDir() {
			continue
		}
		m, err := s.read(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		items = append(items, m)
	}
	slices.SortFunc(items, func(a, b Metadata) int {
		if c := a.QuarantinedAt.Compare(b.QuarantinedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(errs) > 0 {
		return items, fmt.Errorf("quarantine list: %w", errors.Join(errs...))
	}
	return items, nil
}

// Get returns an item's metadata (never its artifact).
func (s *Store) Get(ctx context.Context, id string) (Metadata, error) {
	id, err := ParseID(id)
	if err != nil {
		return Metadata{}, fmt.Errorf("quarantine get: %w", err)
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return Metadata{}, fmt.Errorf("quarantine get %s: %w", id, err)
	}
	defer unlock()
	m, err := s.read(id)
	if err != nil {
		return Metadata{}, fmt.Errorf("quarantine get: %w", err)
	}
	return m, nil
}

// Approve marks a Quarantined item Approved by whom.
func (s *Store) Approve(ctx context.Context, id, by string) (Metadata, error) {
	m, _, err := s.transition(ctx, id, Approved, by)
	return m, err
}

// Reject marks a Quarantined item Rejected by whom. Its artifact is kept
// as evidence and can never be released.
func (s *Store) Reject(ctx context.Context, id, by string) (Metadata, error) {
	m, _, err := s.transition(ctx, id, Rejected, by)
	return m, err
}

// Release marks an Approved item Released and returns its artifact, after
// checking it against the recorded size and SHA-256. It is the only way to
// get the bytes out, and it works once.
func (s *Store) Release(ctx context.Context, id, by string) ([]byte, Metadata, error) {
	m, artifact, err := s.transition(ctx, id, Released, by)
	return artifact, m, err
}

func (s *Store) transition(ctx context.Context, id string, to Status, by string) (Metadata, []byte, error) {
	op := "quarantine " + strings.ToLower(string(to))
	id, err := ParseID(id)
	if err != nil {
		return Metadata{}, nil, fmt.Errorf("%s: %w", op, err)
	}
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return Metadata{}, nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	defer unlock()
	m, err := s.read(id)
	if err != nil {
		return Metadata{}, nil, fmt.Errorf("%s: %w", op, err)
	}
	if !slices.Contains(transitions[m.Status], to) {
		return m, nil, fmt.Errorf("%s: %w", op, &TransitionError{ID: id, From: m.Status, To: to})
	}
	var artifact []byte
	if to == Released {
		if artifact, err = s.readArtifact(&m); err != nil {
			return m, nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	now := s.now().UTC()
	switch to {
	case Approved:
		m.ApprovedBy, m.ApprovedAt = &by, &now
	case Rejected:
		m.RejectedBy, m.RejectedAt = &by, &now
	case Released:
		m.ReleasedBy, m.ReleasedAt = &by, &now
	}
	m.Status = to
	dir := filepath.Join(s.dir, id)
	if err := writeMetadata(dir, &m); err != nil {
		return m, nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return m, artifact, nil
}

// itemDir returns an item's directory after checking that it is a real
// directory (not a symlink planted in the store).
func (s *Store) itemDir(id string) (string, error) {
	dir := filepath.Join(s.dir, id)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%w: %s is not a directory", ErrCorrupt, id)
	}
	return dir, nil
}

// readRegular reads a file that must be a regular file (not a symlink).
func readRegular(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, path)
	}
	return os.ReadFile(path)
}

func (s *Store) read(id string) (Metadata, error) {
	dir, err := s.itemDir(id)
	if err != nil {
		return Metadata{}, err
	}
	b, err := readRegular(filepath.Join(dir, metadataFile))
	if err != nil {
		return Metadata{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, id, err)
	}
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return Metadata{}, fmt.Errorf("%w: %s metadata: %w", ErrCorrupt, id, err)
	}
	if m.ID != id {
		return Metadata{}, fmt.Errorf("%w: %s metadata names id %q", ErrCorrupt, id, m.ID)
	}
	switch m.Status {
	case Quarantined, Approved, Rejected, Released:
	default:
		return Metadata{}, fmt.Errorf("%w: %s has unknown status %q", ErrCorrupt, id, m.Status)
	}
	if m.ScanResult.Findings == nil {
		m.ScanResult.Findings = []json.RawMessage{}
	}
	return m, nil
}

func (s *Store) readArtifact(m *Metadata) ([]byte, error) {
	b, err := readRegular(filepath.Join(s.dir, m.ID, artifactFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %s artifact: %w", ErrCorrupt, m.ID, err)
	}
	if m.SHA256 != "" {
		sum := sha256.Sum256(b)
		if int64(len(b)) != m.Size || hex.EncodeToString(sum[:]) != m.SHA256 {
			return nil, fmt.Errorf("%w: %s artifact does not match its recorded size and sha256", ErrCorrupt, m.ID)
		}
	}
	return b, nil
}

// writeMetadata replaces dir/metadata.json atomically, pretty-printed as
// kavach 1.0 writes it (serde_json::to_string_pretty: two-space indent).
func writeMetadata(dir string, m *Metadata) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return replaceFile(filepath.Join(dir, metadataFile), b)
}

// replaceFile writes path atomically: a temporary file in the same
// directory, fsynced, renamed over path, then the directory fsynced.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// writeFileSync creates path (mode 0600, must not exist) and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
