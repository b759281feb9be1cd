package quarantine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/scan"
)

// The scanner gate stores its Quarantine verdicts through this interface.
var _ scan.Store = (*Store)(nil)

var fixedNow = time.Date(2026, 3, 25, 12, 0, 0, 123456789, time.UTC)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "q"), WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gateMeta is what scan.Gate passes to Put.
var gateMeta = map[string]string{
	"verdict": "quarantine", "worst_severity": "high", "findings": "2",
	"rules": "jwt,password", "stdout_bytes": "10", "stderr_bytes": "0",
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	artifact := []byte("token=eyJhbGciOi...\n")
	meta := map[string]string{"sandbox_id": "sbx-1", "agent_id": "agent-7"}
	for k, v := range gateMeta {
		meta[k] = v
	}
	id, err := s.Put(ctx, artifact, meta)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != id || m.Status != Quarantined || *m.SandboxID != "sbx-1" || *m.AgentID != "agent-7" ||
		m.ScanResult.Verdict != "Quarantine" || m.ScanResult.WorstSeverity != "High" ||
		m.Labels["rules"] != "jwt,password" || m.Size != int64(len(artifact)) || !m.QuarantinedAt.Equal(fixedNow) {
		t.Fatalf("metadata %+v", m)
	}
	if _, _, err := s.Release(ctx, id, "alice"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("release before approval: %v", err)
	}
	if m, err = s.Approve(ctx, id, "alice"); err != nil || m.Status != Approved || *m.ApprovedBy != "alice" {
		t.Fatalf("approve: %+v, %v", m, err)
	}
	got, m, err := s.Release(ctx, id, "bob")
	if err != nil || !bytes.Equal(got, artifact) || m.Status != Released || *m.ReleasedBy != "bob" {
		t.Fatalf("release: %q, %+v, %v", got, m, err)
	}
	if _, _, err := s.Release(ctx, id, "bob"); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("second release: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Status != Released {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ops := map[Status]func(id string) error{
		Approved: func(id string) error { _, err := s.Approve(ctx, id, "x"); return err },
		Rejected: func(id string) error { _, err := s.Reject(ctx, id, "x"); return err },
		Released: func(id string) error { _, _, err := s.Release(ctx, id, "x"); return err },
	}
	// reach brings a new item to status from.
	reach := func(t *testing.T, from Status) string {
		id, err := s.Put(ctx, []byte("a"), nil)
		if err != nil {
			t.Fatal(err)
		}
		path := map[Status][]Status{Quarantined: nil, Approved: {Approved}, Rejected: {Rejected}, Released: {Approved, Released}}[from]
		for _, st := range path {
			if err := ops[st](id); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{Quarantined, Approved, true}, {Quarantined, Rejected, true}, {Quarantined, Released, false},
		{Approved, Approved, false}, {Approved, Rejected, false}, {Approved, Released, true},
		{Rejected, Approved, false}, {Rejected, Rejected, false}, {Rejected, Released, false},
		{Released, Approved, false}, {Released, Rejected, false}, {Released, Released, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			id := reach(t, tt.from)
			err := ops[tt.to](id)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			var te *TransitionError
			if !tt.ok && (!errors.As(err, &te) || te.From != tt.from || te.To != tt.to) {
				t.Fatalf("err = %v, want a TransitionError", err)
			}
			if m, _ := s.Get(ctx, id); tt.ok != (m.Status == tt.to) && tt.from != tt.to {
				t.Fatalf("status after: %s", m.Status)
			}
		})
	}
}

func TestIDValidation(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id, err := s.Put(ctx, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{"", "..", "../../etc/passwd", id + "/../x", "/" + id[1:], strings.Replace(id, "-", "/", 1),
		"{" + id[1:35] + "}", strings.Replace(id, id[:2], "..", 1), id[:35] + "g", id + "0", "urn:uuid:" + id, strings.ReplaceAll(id, "-", "")}
	for _, b := range bad {
		t.Run(b, func(t *testing.T) {
			if _, err := s.Get(ctx, b); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Get(%q) = %v", b, err)
			}
			if _, err := s.Approve(ctx, b, "x"); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Approve(%q) = %v", b, err)
			}
			if _, err := s.Reject(ctx, b, "x"); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Reject(%q) = %v", b, err)
			}
			if _, _, err := s.Release(ctx, b, "x"); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Release(%q) = %v", b, err)
			}
		})
	}
	if m, err := s.Get(ctx, strings.ToUpper(id)); err != nil || m.ID != id {
		t.Fatalf("upper-case id: %+v, %v", m, err)
	}
	if _, err := s.Get(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestModes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id, err := s.Put(ctx, []byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, id, "x"); err != nil {
		t.Fatal(err)
	}
	check := func(p string, want os.FileMode) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	check(s.Dir(), 0o700)
	check(filepath.Join(s.Dir(), id), 0o700)
	check(filepath.Join(s.Dir(), id, artifactFile), 0o600)
	check(filepath.Join(s.Dir(), id, metadataFile), 0o600)
	check(filepath.Join(s.Dir(), lockFile), 0o600)
	// A store directory created loose is tightened.
	loose := filepath.Join(t.TempDir(), "loose")
	os.Mkdir(loose, 0o755)
	if _, err := New(loose); err != nil {
		t.Fatal(err)
	}
	check(loose, 0o700)
}

// rustMetadata is a metadata.json as kavach 1.0 writes it.
const rustMetadata = `{
  "id": "%s",
  "sandbox_id": "sbx-9",
  "agent_id": null,
  "scan_result": {
    "verdict": "Quarantine",
    "findings": [
      {
        "id": "6f1c2a4e-2b1d-4e8a-9c3b-5d7e9f1a2b3c",
        "scanner": "secrets",
        "severity": "High",
        "category": "credential",
        "message": "JWT Token detected",
        "evidence": "eyJhbGciOiJIUzI1NiIs..."
      }
    ],
    "worst_severity": "High"
  },
  "status": "Quarantined",
  "quarantined_at": "2026-03-25T12:00:00.123456789Z",
  "approved_by": null,
  "approved_at": null
}`

func TestReadsRustStore(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const id = "0b9c6d2e-8f1a-4c3b-9d2e-7a6b5c4d3e2f"
	dir := filepath.Join(s.Dir(), id)
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, artifactFile), []byte("held"), 0o644)
	os.WriteFile(filepath.Join(dir, metadataFile), []byte(strings.Replace(rustMetadata, "%s", id, 1)), 0o644)
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || *list[0].SandboxID != "sbx-9" || list[0].AgentID != nil ||
		len(list[0].ScanResult.Findings) != 1 || list[0].Status != Quarantined {
		t.Fatalf("list %+v, %v", list, err)
	}
	if _, err := s.Approve(ctx, id, "carol"); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Release(ctx, id, "carol")
	if err != nil || string(got) != "held" {
		t.Fatalf("release %q, %v", got, err)
	}
	// The rewritten file still has every field of the original, and the
	// finding is kept as it was.
	b, _ := os.ReadFile(filepath.Join(dir, metadataFile))
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "sandbox_id", "agent_id", "scan_result", "status", "quarantined_at", "approved_by", "approved_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("field %s lost", k)
		}
	}
	if !bytes.Contains(b, []byte(`"evidence": "eyJhbGciOiJIUzI1NiIs..."`)) || !bytes.Contains(b, []byte(`"status": "Released"`)) {
		t.Fatalf("metadata:\n%s", b)
	}
}

func TestCorruptArtifactNotReleased(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id, _ := s.Put(ctx, []byte("original"), nil)
	s.Approve(ctx, id, "x")
	os.WriteFile(filepath.Join(s.Dir(), id, artifactFile), []byte("tampered"), 0o600)
	if _, _, err := s.Release(ctx, id, "x"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("release of a changed artifact: %v", err)
	}
	if m, _ := s.Get(ctx, id); m.Status != Approved {
		t.Fatalf("status %s after a refused release", m.Status)
	}
}

func TestListSkipsAndReports(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	good, _ := s.Put(ctx, []byte("a"), nil)
	os.Mkdir(filepath.Join(s.Dir(), "not-an-id"), 0o700)
	os.Mkdir(filepath.Join(s.Dir(), ".new-123"), 0o700)
	os.WriteFile(filepath.Join(s.Dir(), "11111111-1111-4111-8111-111111111111"), nil, 0o600) // a file, not a dir
	broken := "22222222-2222-4222-8222-222222222222"
	os.Mkdir(filepath.Join(s.Dir(), broken), 0o700)
	os.WriteFile(filepath.Join(s.Dir(), broken, metadataFile), []byte("{"), 0o600)
	list, err := s.List(ctx)
	if len(list) != 1 || list[0].ID != good || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), broken) {
		t.Fatalf("list %+v, %v", list, err)
	}
}

func TestSymlinkRefused(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	other := newStore(t)
	id, _ := other.Put(ctx, []byte("elsewhere"), nil)
	if err := os.Symlink(filepath.Join(other.Dir(), id), filepath.Join(s.Dir(), id)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get through a symlink: %v", err)
	}
}

// TestConcurrentApprove races many goroutines, each through its own Store
// (its own lock file descriptor, as separate processes have), to approve
// or reject one item: exactly one wins.
func TestConcurrentApprove(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id, _ := s.Put(ctx, []byte("a"), nil)
	var wins, refusals atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			st, err := New(s.Dir())
			if err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				_, err = st.Approve(ctx, id, "x")
			} else {
				_, err = st.Reject(ctx, id, "x")
			}
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrInvalidTransition):
				refusals.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || refusals.Load() != 15 {
		t.Fatalf("%d wins, %d refusals", wins.Load(), refusals.Load())
	}
}

func TestConcurrentPut(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := s.Put(ctx, []byte{byte(i)}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, err := s.List(ctx)
	if err != nil || len(list) != 20 {
		t.Fatalf("%d items, %v", len(list), err)
	}
}

func TestCancelledContext(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, []byte("a"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	if d, _ := DefaultDir(); d != "/data/kavach/quarantine" {
		t.Fatalf("with XDG_DATA_HOME: %s", d)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultDir(); d != "/home/u/.local/share/kavach/quarantine" {
		t.Fatalf("without: %s", d)
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0b9c6d2e-8f1a-4c3b-9d2e-7a6b5c4d3e2f", "../../../../../../../../../../../../", "", "0B9C6D2E-8F1A-4C3B-9D2E-7A6B5C4D3E2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if len(id) != 36 || filepath.Base(id) != id || strings.Contains(id, "..") || id != strings.ToLower(id) {
			t.Fatalf("ParseID(%q) accepted %q", s, id)
		}
	})
}

const helperEnv = "KAVACH_QUARANTINE_TEST_HELPER"

// TestHelperProcess approves or rejects one item from a child process for
// TestCrossProcessTransitions: exit 0 when it won, 3 when refused.
func TestHelperProcess(t *testing.T) {
	arg := os.Getenv(helperEnv)
	if arg == "" {
		return // not a helper run
	}
	dir, id, _ := strings.Cut(arg, "|")
	s, err := New(dir)
	if err != nil {
		os.Exit(2)
	}
	if os.Getpid()%2 == 0 {
		_, err = s.Approve(context.Background(), id, "child")
	} else {
		_, err = s.Reject(context.Background(), id, "child")
	}
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, ErrInvalidTransition):
		os.Exit(3)
	default:
		os.Exit(2)
	}
}

// TestCrossProcessTransitions races child processes on one item: the lock
// file lets exactly one change it.
func TestCrossProcessTransitions(t *testing.T) {
	kavachtest.RequireLinux(t)
	s := newStore(t)
	id, err := s.Put(context.Background(), []byte("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for range 6 {
		c := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		c.Env = append(os.Environ(), helperEnv+"="+s.Dir()+"|"+id)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	wins, refused := 0, 0
	for _, c := range cmds {
		err := c.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &ee) && ee.ExitCode() == 3:
			refused++
		default:
			t.Fatalf("child: %v", err)
		}
	}
	if wins != 1 || refused != 5 {
		t.Fatalf("%d wins, %d refused", wins, refused)
	}
	if m, _ := s.Get(context.Background(), id); m.Status == Quarantined {
		t.Fatal("no child changed the item")
	}
}
