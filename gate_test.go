package kavach

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/kavach-go/kavach/scan"
)

// memStore is a quarantine store in memory.
type memStore struct {
	mu    sync.Mutex
	items map[string][]byte
}

func (m *memStore) Put(_ context.Context, b []byte, _ map[string]string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string][]byte{}
	}
	id := "q" + string(rune('0'+len(m.items)))
	m.items[id] = append([]byte(nil), b...)
	return id, nil
}

func TestExecGate(t *testing.T) {
	// Secret-looking values are assembled at run time so that the
	// repository itself holds none.
	awsKey := "AKIA" + "QZ3KX7M4N2P5R6T8"
	pw := `password = "` + "hunter2" + "hunter2" + `"`
	store := &memStore{}
	sb, _ := newTestSandbox(t, func(c *Config) { c.Quarantine = store })
	moveTo(t, sb, Running)
	ctx := t.Context()

	res, err := sb.Exec(ctx, Shell("echo all clear"))
	if err != nil || res.Verdict != scan.Pass || string(res.Stdout) != "all clear\n" || len(res.Findings) != 0 {
		t.Fatalf("pass: %+v %v", res, err)
	}
	res, err = sb.Exec(ctx, Shell("echo mail alice.smith@corp-mail.net; echo host 10.1.2.3 >&2"))
	if err != nil || res.Verdict != scan.Warn {
		t.Fatalf("warn: %+v %v", res, err)
	}
	if strings.Contains(string(res.Stdout), "alice.smith") || !strings.Contains(string(res.Stdout), "[REDACTED:") ||
		strings.Contains(string(res.Stderr), "10.1.2.3") {
		t.Errorf("warn output not redacted: %q %q", res.Stdout, res.Stderr)
	}
	if len(res.Findings) != 2 || res.Findings[0].Stream != "stdout" || res.Findings[1].Stream != "stderr" {
		t.Errorf("findings %v", res.Findings)
	}
	res, err = sb.Exec(ctx, Command{Args: []string{"/bin/sh", "-c", `echo "$PW"`}, Env: []string{"PW=" + pw}})
	if err != nil || res.Verdict != scan.Quarantine || res.QuarantineID == "" {
		t.Fatalf("quarantine: %+v %v", res, err)
	}
	if strings.Contains(string(res.Stdout), "hunter2") {
		t.Errorf("quarantined output released: %q", res.Stdout)
	}
	if got := string(store.items[res.QuarantineID]); !strings.Contains(got, pw) {
		t.Errorf("quarantine store holds %q", got)
	}
	res, err = sb.Exec(ctx, Command{Args: []string{"/bin/sh", "-c", `echo "$K"; exit 4`}, Env: []string{"K=" + awsKey}})
	if err != nil || res.Verdict != scan.Block || res.Stdout != nil || res.ExitCode != 4 {
		t.Fatalf("block: %+v %v", res, err)
	}
}

func TestExecGateWithoutStoreWithholds(t *testing.T) {
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	pw := `password = "` + "hunter2" + "hunter2" + `"`
	res, err := sb.Exec(t.Context(), Command{Args: []string{"/bin/sh", "-c", `echo "$PW"`}, Env: []string{"PW=" + pw}})
	if !errors.Is(err, scan.ErrNoStore) {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.Stdout != nil || res.Verdict != scan.Quarantine {
		t.Errorf("output must be withheld: %+v", res)
	}
}

func TestExecGateDisabled(t *testing.T) {
	off := scan.DefaultGatePolicy()
	off.Enabled = false
	sb, _ := newTestSandbox(t, func(c *Config) { c.Scan = &off })
	moveTo(t, sb, Running)
	res, err := sb.Exec(t.Context(), Shell("echo 10.1.2.3"))
	if err != nil || string(res.Stdout) != "10.1.2.3\n" || res.Findings != nil {
		t.Errorf("%+v %v", res, err)
	}
}

func TestSpawnLineGate(t *testing.T) {
	awsKey := "AKIA" + "QZ3KX7M4N2P5R6T8"
	sb, _ := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	p, err := sb.Spawn(t.Context(), Command{
		Args: []string{"/bin/sh", "-c", `echo ok; echo mail alice.smith@corp-mail.net; echo "key $K"; echo after`},
		Env:  []string{"K=" + awsKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, p.Stdout()); close(done) }()
	res, err := p.Wait()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.HasPrefix(got, "ok\nmail [REDACTED:") || strings.Contains(got, awsKey) || strings.Contains(got, "after") {
		t.Errorf("released %q", got)
	}
	if !p.Withheld() || res.Verdict != scan.Block || len(res.Findings) < 2 {
		t.Errorf("withheld=%v verdict=%v findings=%v", p.Withheld(), res.Verdict, res.Findings)
	}
	if res.Stdout != nil {
		t.Errorf("streamed result keeps output: %q", res.Stdout)
	}
}
