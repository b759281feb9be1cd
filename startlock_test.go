package kavach

import (
	"context"
	"errors"
	"testing"
	"time"
)

// gatedSandbox is a running sandbox whose backend holds every Start until
// the returned function is called.
func gatedSandbox(t *testing.T) (*Sandbox, *hostBackend, func()) {
	t.Helper()
	sb, hb := newTestSandbox(t, nil)
	moveTo(t, sb, Running)
	hb.startGate, hb.started = make(chan struct{}), make(chan struct{}, 16)
	once := false
	release := func() {
		if !once {
			once = true
			close(hb.startGate)
		}
	}
	t.Cleanup(release)
	return sb, hb, release
}

// TestStartDoesNotHoldTheSandbox: while the backend starts a command,
// State answers and other Execs start too.
func TestStartDoesNotHoldTheSandbox(t *testing.T) {
	sb, hb, release := gatedSandbox(t)
	results := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := sb.Exec(context.Background(), Command{Args: []string{"/bin/true"}})
			results <- err
		}()
	}
	for i := range 2 {
		select {
		case <-hb.started:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 2 Execs reached the backend's Start: starts are serialised", i)
		}
	}
	done := make(chan State, 1)
	go func() { done <- sb.State() }()
	select {
	case st := <-done:
		if st != Running {
			t.Errorf("State = %s", st)
		}
	case <-time.After(time.Second):
		t.Fatal("State waited for a Start")
	}
	release()
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("exec: %v", err)
		}
	}
}

// TestDestroyWaitsForStarts: a Destroy that comes while a command is being
// started waits for the start, then kills what it started (a Start that
// reached the destroyed backend sandbox would fail instead), and an Exec
// that comes after it is refused.
func TestDestroyWaitsForStarts(t *testing.T) {
	sb, hb, release := gatedSandbox(t)
	type outcome struct {
		res *Result
		err error
	}
	execd := make(chan outcome, 1)
	go func() {
		res, err := sb.Exec(context.Background(), Command{Args: []string{"/bin/sleep", "100"}})
		execd <- outcome{res, err}
	}()
	<-hb.started
	destroyed := make(chan error, 1)
	go func() { destroyed <- sb.Destroy(context.Background()) }()
	select {
	case err := <-destroyed:
		t.Fatalf("Destroy returned during a start: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// A new Exec now waits behind the pending Destroy and is refused.
	late := make(chan error, 1)
	go func() {
		_, err := sb.Exec(context.Background(), Command{Args: []string{"/bin/true"}})
		late <- err
	}()
	release()
	if err := <-destroyed; err != nil {
		t.Fatalf("destroy: %v", err)
	}
	select {
	case o := <-execd:
		if o.res == nil || o.res.Termination != TerminationKilled {
			t.Errorf("exec started before Destroy: %+v, %v; want it killed", o.res, o.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command started before Destroy still runs")
	}
	if err := <-late; !errors.Is(err, ErrNotRunning) {
		t.Errorf("exec after Destroy: %v, want ErrNotRunning", err)
	}
}
