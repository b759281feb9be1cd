package kavach

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/threat"
)

func openAudit(t *testing.T) (*audit.Writer, string, []byte) {
	t.Helper()
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	path := filepath.Join(dir, "audit.jsonl")
	w, err := audit.Open(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, path, key
}

func auditEvents(t *testing.T, path string) (events []string, text string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var b strings.Builder
	for sc.Scan() {
		line := sc.Text()
		b.WriteString(line + "\n")
		_, rest, _ := strings.Cut(line, `"event_type":"`)
		ev, _, _ := strings.Cut(rest, `"`)
		events = append(events, ev)
	}
	return events, b.String()
}

func TestAuditEveryEvent(t *testing.T) {
	w, path, key := openAudit(t)
	token := "ghp_" + strings.Repeat("A1b2C3d4E5", 3) + "xyzXYZ"
	sb, _ := newTestSandbox(t, func(c *Config) { c.Audit = w; c.AgentID = "agent-7" })
	ctx := t.Context()
	moveTo(t, sb, Running)
	if _, err := sb.Exec(ctx, Command{Args: []string{"/bin/echo", "mail alice.smith@corp-mail.net", "--token=" + token}}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []State{Paused, Running, Stopped, Destroyed} {
		if err := sb.Transition(ctx, step); err != nil {
			t.Fatal(err)
		}
	}
	events, text := auditEvents(t, path)
	want := []string{"genesis", EventCreate, EventStart, EventExec, EventPause, EventResume, EventStop, EventDestroy}
	if strings.Join(events, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v\nwant   %v", events, want)
	}
	for _, must := range []string{`"agent_id":"agent-7"`, `"rule":"email-address"`, `"verdict":"warn"`, `"exit_code":0`, `"enforced":`} {
		if !strings.Contains(text, must) {
			t.Errorf("audit log lacks %s", must)
		}
	}
	if strings.Contains(text, token) || strings.Contains(text, "alice.smith@corp-mail.net") {
		t.Errorf("audit log holds a secret or the raw finding:\n%s", text)
	}
	if _, err := audit.Verify(ctx, path, key); err != nil {
		t.Errorf("audit log does not verify: %v", err)
	}
}

func TestGuardDenies(t *testing.T) {
	w, path, _ := openAudit(t)
	sb, _ := newTestSandbox(t, func(c *Config) {
		c.Audit = w
		c.Guard = guard.Config{Deny: []guard.ViolationType{guard.SensitivePath}}
	})
	moveTo(t, sb, Running)
	_, err := sb.Exec(t.Context(), Command{Args: []string{"cat", "/etc/shadow"}})
	var de *guard.DeniedError
	if !errors.As(err, &de) || len(de.Violations) == 0 {
		t.Fatalf("err = %v, want a guard denial", err)
	}
	// Report-only types are scored, not denied.
	res, err := sb.Exec(t.Context(), Shell("echo fine"))
	if err != nil || len(res.Violations) == 0 || res.Violations[0].Type != guard.BlockedCommand {
		t.Fatalf("report-only violation: %+v %v", res, err)
	}
	if res.Threat.ViolationCount != 1 {
		t.Errorf("threat did not count the violation: %+v", res.Threat)
	}
	events, _ := auditEvents(t, path)
	if !strings.Contains(strings.Join(events, " "), EventExecDenied) {
		t.Errorf("denial not audited: %v", events)
	}
}

func TestThreatSuspendsAndRevokes(t *testing.T) {
	// No decay: the test counts assessments to the threshold exactly, and
	// with the default decay a slow run left the third leak's score just
	// under it.
	tr, err := threat.NewOffenderTracker(t.Context(), threat.TrackerConfig{Decay: 1})
	if err != nil {
		t.Fatal(err)
	}
	awsKey := "AKIA" + "QZ3KX7M4N2P5R6T8"
	mk := func() *Sandbox {
		sb, _ := newTestSandbox(t, func(c *Config) { c.Threat = tr; c.AgentID = "mallory" })
		moveTo(t, sb, Running)
		return sb
	}
	victim := mk()
	sb := mk()
	leak := Command{Args: []string{"/bin/sh", "-c", `echo "$K"; cat /etc/shadow`}, Env: []string{"K=" + awsKey}}
	// Each leak is Malicious (intent 1.0): the third reaches the
	// threshold (3.0) and suspends the agent.
	var err3 error
	for range 4 {
		if _, err3 = sb.Exec(t.Context(), leak); err3 != nil {
			break
		}
	}
	if !errors.Is(err3, threat.ErrSuspended) {
		t.Fatalf("agent not suspended: %v (score %.2f)", err3, tr.Score("mallory"))
	}
	if _, err := victim.Exec(t.Context(), Shell("true")); !errors.Is(err, threat.ErrSuspended) {
		t.Fatalf("suspension does not cover the agent's other sandboxes: %v", err)
	}
	// Further malicious assessments (from anywhere sharing the tracker)
	// reach 2 x threshold: revoke. The next exec attempt ends every
	// sandbox of the agent.
	for range 3 {
		if _, err := tr.Record(t.Context(), "mallory", threat.Assessment{IntentScore: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sb.Exec(t.Context(), Shell("true")); !errors.Is(err, threat.ErrRevoked) {
		t.Fatalf("revoked agent ran: %v", err)
	}
	if sb.State() != Destroyed || victim.State() != Destroyed {
		t.Fatalf("revoked agent's sandboxes live on: %s %s", sb.State(), victim.State())
	}
	if err := tr.Reset(t.Context(), "mallory"); err != nil {
		t.Fatal(err)
	}
	other := mk()
	if _, err := other.Exec(t.Context(), Shell("true")); err != nil {
		t.Errorf("after reset: %v", err)
	}
}

func TestTimeAnomaly(t *testing.T) {
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	res, err := sb.Exec(t.Context(), Command{Args: []string{"sleep", "0.3"}, Expected: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 1 || res.Violations[0].Type != guard.TimeAnomaly {
		t.Errorf("violations %+v", res.Violations)
	}
	res, err = sb.Exec(t.Context(), Command{Args: []string{"true"}, Expected: 10 * time.Second})
	if err != nil || len(res.Violations) != 0 {
		t.Errorf("in time: %+v %v", res.Violations, err)
	}
}
