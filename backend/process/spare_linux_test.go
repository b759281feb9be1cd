package process_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/policy"
)

// TestSpareStdin runs commands in spare inits, whose stdin is a pipe the
// parent feeds: a reader's bytes arrive, and a nil Stdin reads as empty.
func TestSpareStdin(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
	// The second command of a sandbox runs in a fresh init (a sandbox
	// earns its spares by running more than one); the others in spares.
	tests := []struct {
		name  string
		stdin string
		nil   bool
		warm  bool
		want  string
	}{
		{"reader", "hello\nworld\n", false, true, "hello\nworld\n"},
		{"fresh init", "cold\n", false, false, "cold\n"},
		{"nil", "", true, true, ""},
		{"after a refill", "again\n", false, true, "again\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.warm && !process.WaitSpare(sb) {
				t.Fatal("no spare before the command")
			}
			var out, errb syncBuffer
			c := &backend.Command{Args: []string{"cat"}, Env: pathEnv, Stdout: &out, Stderr: &errb}
			if !tt.nil {
				c.Stdin = strings.NewReader(tt.stdin)
			}
			p, err := sb.Start(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.Wait()
			if err != nil || st.Code != 0 || out.String() != tt.want {
				t.Errorf("cat: %+v %v stdout %q stderr %q, want %q", st, err, out.String(), errb.String(), tt.want)
			}
		})
	}
}

// TestReady: a created sandbox starts its spare in the background, and
// Ready returns once that spare is idle.
func TestReady(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
	r, ok := sb.(backend.Readier)
	if !ok {
		t.Fatal("the process sandbox is not a backend.Readier")
	}
	if err := r.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !process.SpareIdle(sb) {
		t.Fatal("Ready returned before the spare init was idle")
	}
}

// TestSpareDiedFallsBack kills the idle spare: the next command runs in a
// fresh init, without an error.
func TestSpareDiedFallsBack(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
	pid := process.SparePID(sb)
	if pid == 0 {
		t.Fatal("no spare after Create")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Dead means its pipes are closed: a zombie (Wait reaps it) whose
	// other threads, which share its descriptors, have all exited too.
	waitFor(t, func() bool {
		data, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		tasks, err := os.ReadDir("/proc/" + itoa(pid) + "/task")
		return strings.Contains(string(data), ") Z ") && err == nil && len(tasks) == 1
	})
	var out, errb syncBuffer
	p, err := sb.Start(t.Context(), &backend.Command{Args: []string{"echo", "cold"}, Env: pathEnv, Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatalf("start after the spare died: %v; stderr %q", err, errb.String())
	}
	if st, err := p.Wait(); err != nil || st.Code != 0 || out.String() != "cold\n" {
		t.Errorf("after the spare died: %+v %v %q %q", st, err, out.String(), errb.String())
	}
}

// TestSparePausedDestroy destroys a paused sandbox with a frozen idle
// spare: Destroy is prompt and nothing of the sandbox is left.
func TestSparePausedDestroy(t *testing.T) {
	b := requireBackend(t)
	sb, err := b.Create(t.Context(), backend.Spec{ID: t.Name(), Policy: policy.Strict()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	for range 2 {
		if r := run(t, sb, pathEnv, "true"); r.st.Code != 0 {
			t.Fatalf("true: %+v %q", r.st, r.stderr)
		}
	}
	if process.SparePID(sb) == 0 {
		t.Fatal("no spare after two commands")
	}
	if err := sb.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Destroy of a paused sandbox with a spare took %v", took)
	}
	if n := sandboxProcs(t, t.Name()); n != 0 {
		t.Errorf("%d sandbox processes left after Destroy", n)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestFileStdin gives the first command a file as stdin: it runs in a
// fresh init that gets the file itself (the spare is dropped), and the
// command reads it.
func TestFileStdin(t *testing.T) {
	b := requireBackend(t)
	sb := create(t, b, policy.Strict())
	path := t.TempDir() + "/in"
	if err := os.WriteFile(path, []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errb syncBuffer
	p, err := sb.Start(t.Context(), &backend.Command{Args: []string{"cat"}, Env: pathEnv, Stdin: f, Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 0 || out.String() != "from a file\n" {
		t.Errorf("cat <file: %+v %v %q %q", st, err, out.String(), errb.String())
	}
}
